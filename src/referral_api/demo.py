"""A demo directory: a few hundred made-up providers and attorneys around ten US metros.

Everything is generated from a fixed seed, so every run plans the same organizations,
people, NPIs and bar numbers. `build_plan` is the pure part (no database); `seed_demo`
writes a plan through the service layer, the way the API would, in one transaction.

The data is fictional but shaped like the real thing: locations sit in real ZIP codes
(geocoded to the ZIP centroid by the service), on real streets of those ZIPs, with
fictional 555-01xx phone numbers and websites under the reserved ``.example`` domain.
A marker organization (kind "partner") records that the demo was loaded, which makes
seeding idempotent; demo organizations are recognised by their ``.demo.example`` site.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.auth.principals import PLATFORM_ADMIN, Principal
from referral_api.config import get_settings
from referral_api.db import make_engine, make_sessionmaker
from referral_api.directory import service as directory_service
from referral_api.directory.schemas import AttorneyCreate, ProviderCreate
from referral_api.models import Attorney, Organization, Provider
from referral_api.organizations import service as org_service
from referral_api.organizations.schemas import LocationCreate, OrganizationCreate
from referral_api.schemas_common import npi_check_digit_ok
from referral_api.vocabulary import INSURANCE_SLUGS, PRACTICE_AREAS, SPECIALTY_BY_CODE

DEMO_SEED = 20240917
MARKER_NAME = "Demo — referral-api demo directory (seed marker)"
DEMO_DOMAIN = "demo.example"
# pg_advisory_xact_lock key: concurrent seeders queue up instead of both seeding.
_LOCK_KEY = 0x5EED_DE30

# -- geography ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A neighbourhood: a real ZIP, its area code and streets that run through it."""

    zip_code: str
    neighborhood: str
    area_code: str
    streets: tuple[str, ...]


@dataclass(frozen=True)
class Metro:
    key: str
    state: str
    weight: float  # share of the demo directory
    brands: tuple[str, ...]  # how local businesses name the region
    street_numbers: tuple[int, int]
    spanish: float  # chance a provider of no particular heritage also speaks Spanish
    heritage: tuple[tuple[str, float], ...]
    areas: tuple[Area, ...]


def _a(zip_code: str, neighborhood: str, area_code: str, *streets: str) -> Area:
    return Area(zip_code, neighborhood, area_code, streets)


METROS: tuple[Metro, ...] = (
    Metro(
        "New York", "NY", 16, ("New York", "NYC", "Tri-State", "Metropolitan"), (10, 999), 0.12,
        (("general", 50), ("hispanic", 16), ("chinese", 8), ("south_asian", 7), ("russian", 6),
         ("korean", 4), ("haitian", 3), ("arabic", 2), ("polish", 2), ("filipino", 1)),
        (
            _a("10001", "Chelsea", "212", "W 34th St", "7th Ave", "8th Ave", "W 30th St"),
            _a("10016", "Murray Hill", "212", "Lexington Ave", "Park Ave S", "E 34th St",
               "3rd Ave"),
            _a("10022", "Midtown East", "212", "Lexington Ave", "3rd Ave", "E 57th St",
               "Madison Ave"),
            _a("10019", "Midtown West", "212", "W 57th St", "Broadway", "8th Ave", "W 55th St"),
            _a("10025", "Upper West Side", "212", "Broadway", "Amsterdam Ave", "Columbus Ave",
               "W 96th St"),
            _a("10028", "Upper East Side", "212", "E 86th St", "Lexington Ave", "2nd Ave",
               "York Ave"),
            _a("10003", "Union Square", "212", "E 14th St", "University Pl", "3rd Ave", "2nd Ave"),
            _a("10038", "Financial District", "212", "Broadway", "Fulton St", "John St",
               "William St"),
            _a("10032", "Washington Heights", "212", "Broadway", "Fort Washington Ave",
               "St Nicholas Ave"),
            _a("11201", "Brooklyn Heights", "718", "Court St", "Montague St", "Atlantic Ave",
               "Joralemon St"),
            _a("11215", "Park Slope", "718", "7th Ave", "5th Ave", "Union St"),
            _a("11209", "Bay Ridge", "718", "3rd Ave", "5th Ave", "86th St"),
            _a("11229", "Sheepshead Bay", "718", "Kings Hwy", "Avenue U", "Coney Island Ave"),
            _a("11354", "Flushing", "718", "Main St", "Northern Blvd", "Roosevelt Ave"),
            _a("11375", "Forest Hills", "718", "Queens Blvd", "Austin St"),
            _a("11372", "Jackson Heights", "718", "37th Ave", "Roosevelt Ave", "Northern Blvd"),
            _a("11101", "Long Island City", "718", "Jackson Ave", "Vernon Blvd"),
            _a("10461", "Westchester Square", "718", "E Tremont Ave", "Westchester Ave",
               "Morris Park Ave"),
            _a("10451", "Concourse", "718", "Grand Concourse", "E 161st St"),
            _a("10314", "Staten Island", "718", "Victory Blvd", "Richmond Ave"),
        ),
    ),
    Metro(
        "Los Angeles", "CA", 14, ("Los Angeles", "LA", "SoCal", "Southern California"),
        (100, 9999), 0.18,
        (("general", 40), ("hispanic", 28), ("korean", 7), ("chinese", 6), ("armenian", 6),
         ("persian", 5), ("filipino", 5), ("vietnamese", 3)),
        (
            _a("90036", "Mid-Wilshire", "323", "Wilshire Blvd", "Fairfax Ave", "W 3rd St"),
            _a("90010", "Koreatown", "213", "Wilshire Blvd", "W 6th St"),
            _a("90025", "West Los Angeles", "310", "Santa Monica Blvd", "Wilshire Blvd",
               "Sawtelle Blvd", "S Barrington Ave"),
            _a("90017", "Downtown", "213", "W 7th St", "Wilshire Blvd", "S Figueroa St",
               "W 6th St"),
            _a("90048", "Beverly Grove", "310", "Beverly Blvd", "W 3rd St", "La Cienega Blvd"),
            _a("90027", "Los Feliz", "323", "Hillhurst Ave", "N Vermont Ave", "Los Feliz Blvd"),
            _a("90045", "Westchester", "310", "Sepulveda Blvd", "W Manchester Ave",
               "Lincoln Blvd"),
            _a("90022", "East Los Angeles", "323", "Whittier Blvd", "Atlantic Blvd",
               "E Cesar E Chavez Ave"),
            _a("90401", "Santa Monica", "310", "Wilshire Blvd", "Santa Monica Blvd", "Ocean Ave"),
            _a("91101", "Pasadena", "626", "E Colorado Blvd", "S Lake Ave", "E Green St"),
            _a("90802", "Long Beach", "562", "E Ocean Blvd", "Long Beach Blvd", "Pine Ave"),
            _a("91203", "Glendale", "818", "N Brand Blvd", "N Central Ave", "W Broadway"),
            _a("91505", "Burbank", "818", "W Olive Ave", "N Hollywood Way"),
            _a("91601", "North Hollywood", "818", "Lankershim Blvd", "Magnolia Blvd"),
            _a("91403", "Sherman Oaks", "818", "Ventura Blvd", "Van Nuys Blvd"),
            _a("90650", "Norwalk", "562", "Firestone Blvd", "Imperial Hwy"),
        ),
    ),
    Metro(
        "Chicago", "IL", 11, ("Chicago", "Chicagoland", "Windy City", "Lakeshore"), (100, 4999),
        0.08,
        (("general", 52), ("hispanic", 20), ("polish", 10), ("south_asian", 6), ("chinese", 4),
         ("arabic", 4), ("filipino", 3), ("korean", 1)),
        (
            _a("60611", "Streeterville", "312", "N Michigan Ave", "E Ontario St", "E Erie St"),
            _a("60601", "the Loop", "312", "E Randolph St", "N State St", "E Wacker Dr"),
            _a("60603", "the Loop", "312", "S State St", "W Monroe St", "S Wabash Ave"),
            _a("60614", "Lincoln Park", "773", "N Clark St", "N Lincoln Ave",
               "W Fullerton Ave", "N Halsted St"),
            _a("60657", "Lakeview", "773", "N Broadway", "N Clark St", "W Belmont Ave",
               "N Southport Ave"),
            _a("60618", "North Center", "773", "W Irving Park Rd", "N Western Ave",
               "N Elston Ave"),
            _a("60608", "Pilsen", "312", "W 18th St", "S Blue Island Ave", "W Cermak Rd"),
            _a("60632", "Brighton Park", "773", "S Archer Ave", "S Pulaski Rd"),
            _a("60639", "Belmont Cragin", "773", "W Belmont Ave", "N Cicero Ave",
               "W Fullerton Ave"),
            _a("60630", "Jefferson Park", "773", "N Milwaukee Ave", "W Lawrence Ave",
               "N Central Ave"),
            _a("60201", "Evanston", "847", "Church St", "Chicago Ave", "Sherman Ave"),
            _a("60302", "Oak Park", "708", "Lake St", "N Oak Park Ave"),
            _a("60616", "South Loop", "312", "S Michigan Ave", "S Wentworth Ave", "W Cermak Rd"),
            _a("60615", "Hyde Park", "773", "E 53rd St", "S Lake Park Ave"),
        ),
    ),
    Metro(
        "Houston", "TX", 11, ("Houston", "Greater Houston", "Bayou City", "Gulf Coast"),
        (100, 9999), 0.15,
        (("general", 45), ("hispanic", 28), ("vietnamese", 8), ("south_asian", 7),
         ("chinese", 5), ("arabic", 4)),
        (
            _a("77030", "Texas Medical Center", "713", "Fannin St", "Holcombe Blvd",
               "Bertner Ave"),
            _a("77056", "Galleria", "713", "Post Oak Blvd", "Westheimer Rd", "San Felipe St"),
            _a("77098", "Upper Kirby", "713", "Kirby Dr", "Richmond Ave", "Westheimer Rd"),
            _a("77002", "Downtown", "713", "Main St", "Louisiana St", "Travis St", "Smith St"),
            _a("77024", "Memorial", "713", "Memorial Dr", "Gessner Rd", "Katy Fwy"),
            _a("77036", "Sharpstown", "713", "Bellaire Blvd", "Fondren Rd", "Harwin Dr"),
            _a("77081", "Gulfton", "713", "Hillcroft Ave", "Bellaire Blvd", "Gulfton St"),
            _a("77011", "East End", "713", "Navigation Blvd", "Harrisburg Blvd"),
            _a("77058", "Clear Lake", "281", "Bay Area Blvd", "NASA Pkwy"),
            _a("77479", "Sugar Land", "281", "Southwest Fwy", "Sweetwater Blvd"),
            _a("77494", "Katy", "281", "Kingsland Blvd", "S Mason Rd"),
            _a("77008", "the Heights", "713", "Yale St", "W 19th St", "N Shepherd Dr"),
            _a("77504", "Pasadena", "713", "Fairmont Pkwy", "Spencer Hwy"),
        ),
    ),
    Metro(
        "Phoenix", "AZ", 9, ("Phoenix", "Valley", "Desert", "Sonoran", "Arizona"), (100, 9999),
        0.12,
        (("general", 58), ("hispanic", 30), ("vietnamese", 3), ("arabic", 3),
         ("south_asian", 3), ("filipino", 3)),
        (
            _a("85004", "Downtown", "602", "N Central Ave", "E Roosevelt St", "E Van Buren St"),
            _a("85012", "Midtown", "602", "N Central Ave", "E Camelback Rd",
               "W Indian School Rd"),
            _a("85016", "Biltmore", "602", "E Camelback Rd", "N 24th St", "E Indian School Rd"),
            _a("85020", "Sunnyslope", "602", "E Dunlap Ave", "N 7th St", "E Northern Ave"),
            _a("85032", "Paradise Valley", "602", "E Bell Rd", "N Tatum Blvd", "E Cactus Rd"),
            _a("85033", "Maryvale", "623", "W Indian School Rd", "W McDowell Rd", "N 59th Ave"),
            _a("85041", "South Phoenix", "602", "S Central Ave", "W Baseline Rd"),
            _a("85251", "Old Town Scottsdale", "480", "N Scottsdale Rd", "E Camelback Rd",
               "E Indian School Rd"),
            _a("85258", "McCormick Ranch", "480", "N Hayden Rd", "E Shea Blvd"),
            _a("85281", "Tempe", "480", "S Mill Ave", "E University Dr", "S Rural Rd"),
            _a("85201", "Mesa", "480", "W Main St", "N Country Club Dr", "W University Dr"),
            _a("85224", "Chandler", "480", "W Chandler Blvd", "N Alma School Rd", "W Ray Rd"),
            _a("85308", "Arrowhead", "623", "W Bell Rd", "N 67th Ave"),
        ),
    ),
    Metro(
        "Atlanta", "GA", 9, ("Atlanta", "Metro Atlanta", "Peachtree", "Georgia"), (100, 3999),
        0.05,
        (("general", 70), ("hispanic", 8), ("korean", 8), ("south_asian", 7),
         ("vietnamese", 3), ("amharic", 3)),
        (
            _a("30309", "Midtown", "404", "Peachtree St NE", "W Peachtree St NW",
               "10th St NE", "Spring St NW"),
            _a("30305", "Buckhead", "404", "Peachtree Rd NE", "Piedmont Rd NE", "Roswell Rd NE"),
            _a("30326", "Lenox", "404", "Lenox Rd NE", "Peachtree Rd NE"),
            _a("30342", "Medical Center", "404", "Johnson Ferry Rd NE",
               "Peachtree Dunwoody Rd NE", "Roswell Rd NE"),
            _a("30308", "Old Fourth Ward", "404", "Ponce de Leon Ave NE", "Peachtree St NE",
               "North Ave NE"),
            _a("30303", "Downtown", "404", "Peachtree Center Ave NE", "Marietta St NW"),
            _a("30310", "West End", "404", "Ralph David Abernathy Blvd SW", "Cascade Ave SW"),
            _a("30030", "Decatur", "404", "E Ponce de Leon Ave", "N McDonough St", "Church St"),
            _a("30060", "Marietta", "770", "Roswell St", "Powder Springs St", "Church St"),
            _a("30009", "Alpharetta", "770", "Old Milton Pkwy", "Haynes Bridge Rd", "N Main St"),
            _a("30096", "Duluth", "770", "Pleasant Hill Rd", "Satellite Blvd"),
            _a("30340", "Doraville", "770", "Buford Hwy NE"),
        ),
    ),
    Metro(
        "Denver", "CO", 8, ("Denver", "Front Range", "Mile High", "Rocky Mountain", "Colorado"),
        (100, 4999), 0.08,
        (("general", 68), ("hispanic", 20), ("amharic", 5), ("russian", 4), ("vietnamese", 3)),
        (
            _a("80202", "LoDo", "303", "17th St", "Larimer St", "Market St"),
            _a("80203", "Capitol Hill", "303", "E Colfax Ave", "Logan St", "E 13th Ave"),
            _a("80206", "Cherry Creek", "303", "E 1st Ave", "Fillmore St", "E 3rd Ave"),
            _a("80209", "Washington Park", "303", "S Broadway", "E Alameda Ave",
               "S University Blvd"),
            _a("80210", "University", "303", "E Evans Ave", "S University Blvd"),
            _a("80218", "Uptown", "303", "E 19th Ave", "E 17th Ave", "Downing St"),
            _a("80211", "Highland", "303", "W 32nd Ave", "W 38th Ave", "Federal Blvd"),
            _a("80219", "Westwood", "303", "S Federal Blvd", "W Alameda Ave",
               "W Mississippi Ave"),
            _a("80237", "Tech Center", "303", "E Hampden Ave", "S Quebec St"),
            _a("80012", "Aurora", "303", "S Havana St", "E Mississippi Ave", "S Chambers Rd"),
            _a("80226", "Lakewood", "303", "S Wadsworth Blvd", "W Alameda Ave"),
            _a("80110", "Englewood", "303", "S Broadway", "W Hampden Ave"),
            _a("80120", "Littleton", "303", "W Littleton Blvd", "S Broadway"),
        ),
    ),
    Metro(
        "Miami", "FL", 9, ("Miami", "South Florida", "Biscayne", "Sunshine"), (100, 9999), 0.35,
        (("general", 28), ("hispanic", 55), ("haitian", 8), ("brazilian", 6), ("russian", 3)),
        (
            _a("33131", "Brickell", "305", "Brickell Ave", "S Miami Ave"),
            _a("33130", "Little Havana", "305", "SW 8th St", "SW 12th Ave", "W Flagler St"),
            _a("33135", "Little Havana", "305", "W Flagler St", "SW 8th St", "SW 27th Ave"),
            _a("33133", "Coconut Grove", "305", "S Dixie Hwy", "Grand Ave", "S Bayshore Dr"),
            _a("33134", "Coral Gables", "305", "Ponce de Leon Blvd", "Coral Way"),
            _a("33126", "Flagami", "305", "NW 7th St", "W Flagler St"),
            _a("33155", "Westchester", "305", "Bird Rd", "SW 87th Ave"),
            _a("33176", "Kendall", "305", "N Kendall Dr", "S Dixie Hwy"),
            _a("33186", "West Kendall", "305", "SW 137th Ave", "SW 120th St", "SW 88th St"),
            _a("33172", "Doral", "305", "NW 41st St", "NW 107th Ave"),
            _a("33139", "Miami Beach", "305", "Alton Rd", "Washington Ave", "Lincoln Rd"),
            _a("33012", "Hialeah", "305", "W 49th St", "Palm Ave"),
            _a("33161", "North Miami", "305", "NE 125th St", "Biscayne Blvd"),
            _a("33180", "Aventura", "305", "Biscayne Blvd", "NE 191st St"),
            _a("33301", "Fort Lauderdale", "954", "E Las Olas Blvd", "SE 3rd Ave",
               "S Andrews Ave"),
        ),
    ),
    Metro(
        "Seattle", "WA", 7, ("Seattle", "Puget Sound", "Emerald City", "Cascade", "Northwest"),
        (100, 5999), 0.04,
        (("general", 58), ("chinese", 8), ("hispanic", 7), ("vietnamese", 7), ("filipino", 6),
         ("korean", 5), ("amharic", 5), ("south_asian", 4)),
        (
            _a("98101", "Downtown", "206", "4th Ave", "Pine St", "Union St"),
            _a("98104", "First Hill", "206", "9th Ave", "James St", "2nd Ave"),
            _a("98122", "Capitol Hill", "206", "Broadway", "E Madison St", "E Cherry St"),
            _a("98102", "Eastlake", "206", "Eastlake Ave E", "E Olive Way"),
            _a("98103", "Fremont", "206", "N 45th St", "Fremont Ave N", "Stone Way N"),
            _a("98105", "University District", "206", "University Way NE", "NE 45th St",
               "Roosevelt Way NE"),
            _a("98107", "Ballard", "206", "NW Market St", "15th Ave NW", "24th Ave NW"),
            _a("98115", "Wedgwood", "206", "NE 65th St", "35th Ave NE", "NE 75th St"),
            _a("98118", "Columbia City", "206", "Rainier Ave S", "S Othello St",
               "Martin Luther King Jr Way S"),
            _a("98125", "Northgate", "206", "Lake City Way NE", "NE Northgate Way"),
            _a("98116", "West Seattle", "206", "California Ave SW", "SW Alaska St",
               "Fauntleroy Way SW"),
            _a("98004", "Bellevue", "425", "Bellevue Way NE", "NE 8th St", "116th Ave NE"),
            _a("98052", "Redmond", "425", "Redmond Way", "NE 85th St", "148th Ave NE"),
            _a("98032", "Kent", "253", "W Meeker St", "Central Ave N"),
            _a("98402", "Tacoma", "253", "Pacific Ave", "Broadway", "Commerce St"),
        ),
    ),
    Metro(
        "Dallas", "TX", 9, ("Dallas", "North Texas", "DFW", "Metroplex", "Lone Star"),
        (100, 9999), 0.13,
        (("general", 52), ("hispanic", 25), ("south_asian", 8), ("vietnamese", 6),
         ("korean", 4), ("arabic", 3), ("chinese", 2)),
        (
            _a("75201", "Downtown", "214", "Ross Ave", "McKinney Ave", "N Harwood St"),
            _a("75204", "Uptown", "214", "McKinney Ave", "N Central Expy", "Lemmon Ave"),
            _a("75219", "Oak Lawn", "214", "Oak Lawn Ave", "Cedar Springs Rd", "Maple Ave"),
            _a("75246", "Baylor Medical District", "214", "Gaston Ave", "Swiss Ave"),
            _a("75231", "Vickery Meadow", "214", "Walnut Hill Ln", "Greenville Ave",
               "E Northwest Hwy"),
            _a("75230", "Preston Hollow", "214", "Preston Rd", "Forest Ln", "Hillcrest Rd"),
            _a("75206", "Lower Greenville", "214", "Greenville Ave", "Lovers Ln",
               "N Central Expy"),
            _a("75208", "Bishop Arts", "214", "W Davis St", "N Bishop Ave", "N Zang Blvd"),
            _a("75211", "West Oak Cliff", "214", "W Jefferson Blvd", "S Hampton Rd",
               "Fort Worth Ave"),
            _a("75228", "Casa Linda", "214", "Ferguson Rd", "N Buckner Blvd"),
            _a("75243", "Lake Highlands", "214", "Skillman St", "E Forest Ln", "Audelia Rd"),
            _a("75093", "West Plano", "972", "W Park Blvd", "Preston Rd", "Dallas Pkwy"),
            _a("75039", "Las Colinas", "972", "W Las Colinas Blvd", "N MacArthur Blvd",
               "W John Carpenter Fwy"),
            _a("75080", "Richardson", "972", "W Campbell Rd", "N Central Expy", "E Arapaho Rd"),
            _a("75062", "Irving", "972", "W Airport Fwy", "N Belt Line Rd"),
            _a("76102", "Fort Worth", "817", "Main St", "Throckmorton St", "W 7th St"),
        ),
    ),
)
METRO_BY_KEY = {m.key: m for m in METROS}

# States where auto policies carry (or must offer) personal injury protection; elsewhere
# the first-party auto coverage a clinic bills is medical payments (MedPay).
PIP_STATES = frozenset({"NY", "FL", "TX", "WA"})
KAISER_STATES = frozenset({"CA", "CO", "GA", "WA"})
ANTHEM_STATES = frozenset({"NY", "CA", "CO", "GA"})  # Anthem is the Blue plan there
# Licensed counselors are LMHCs in these states, LPCs elsewhere.
LMHC_STATES = frozenset({"NY", "FL", "WA"})

# -- people ------------------------------------------------------------------------------


def _names(words: str) -> tuple[str, ...]:
    """Whitespace-separated names; an underscore is a space inside a name."""
    return tuple(w.replace("_", " ") for w in words.split())


GENERAL_FIRST = _names(
    "James Michael David John Robert Daniel Matthew Christopher Andrew Ryan Kevin Brian "
    "Jason Eric Jonathan Mark Steven Thomas Justin Nicholas Benjamin Samuel Joshua Adam "
    "Patrick Sean Timothy Gregory Marcus Derek Tyler Nathan Aaron Scott Jeffrey Anthony "
    "Jennifer Sarah Jessica Emily Ashley Lauren Megan Rachel Amanda Elizabeth Katherine "
    "Nicole Rebecca Stephanie Laura Michelle Heather Allison Caitlin Hannah Olivia Natalie "
    "Kristen Erin Danielle Courtney Brittany Melissa Andrea Julia Victoria Alexis Monique "
    "Jasmine Tiffany Kimberly Christina Amy Kelly Shannon Molly"
)
GENERAL_LAST = _names(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
    "Martin Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright "
    "Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell "
    "Parker Evans Edwards Collins Stewart Murphy Cook Rogers Morgan Cooper Peterson Reed "
    "Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes "
    "Price Sanders Myers Long Ross Foster Sullivan O'Brien O'Connor Schwartz Goldberg "
    "Kaplan Rosen Weiss Friedman Russo Romano Esposito Ferraro Jackson Washington Coleman "
    "Jenkins Perry Powell Patterson Simmons Graham Hayes Fisher Hoffman Schneider Meyer "
    "Larson Olson Hansen Lindqvist Murray Fitzgerald Brennan McCarthy Donovan Gallagher"
)

# heritage -> (first names, last names, [(language, chance)])
HERITAGE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, float], ...]]] = {
    "hispanic": (
        _names("José Carlos Luis Miguel Juan Jorge Alejandro Ricardo Fernando Eduardo Roberto "
              "Javier Andrés Diego Rafael Daniela María Ana Gabriela Sofía Valeria Adriana "
              "Carolina Mariana Lucía Isabel Patricia Claudia Elena Marisol Yesenia"),
        _names("García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
              "Flores Rivera Gómez Díaz Reyes Morales Cruz Ortiz Gutiérrez Chávez Ramos Ruiz "
              "Mendoza Castillo Vargas Romero Herrera Medina Aguilar Vega Delgado Navarro "
              "Fuentes Cabrera Soto"),
        (("Spanish", 0.85),),
    ),
    "chinese": (
        _names("Wei Jun Mei Lian Xin Hui Ming Yan"),
        _names("Chen Wang Li Zhang Liu Huang Lin Wu Yang Zhou Xu Sun Ma Zhu Ho Wong Chan "
              "Leung"),
        (("Mandarin", 0.55), ("Cantonese", 0.25)),
    ),
    "korean": (
        _names("Ji-hoon Min-jun Seo-yeon Ji-woo Hyun Eun-ji Sung Young"),
        _names("Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Shin"),
        (("Korean", 0.65),),
    ),
    "vietnamese": (
        _names("Minh Thanh Huong Linh Tuan Anh Duc Lan Phuong Khanh"),
        _names("Nguyen Tran Pham Le Hoang Vu Phan Dang Bui Do Ngo Huynh"),
        (("Vietnamese", 0.65),),
    ),
    "south_asian": (
        _names("Priya Anjali Neha Raj Arjun Vikram Sanjay Amit Ravi Deepa Kavita Rahul "
              "Nikhil Sunita Aisha Imran"),
        _names("Patel Shah Singh Kumar Gupta Sharma Mehta Desai Reddy Rao Iyer Chopra "
              "Malhotra Joshi Khan Qureshi"),
        (("Hindi", 0.5), ("Gujarati", 0.15), ("Urdu", 0.1), ("Punjabi", 0.1)),
    ),
    "russian": (
        _names("Dmitri Alexei Igor Natalia Olga Svetlana Yelena Sergei Anna Irina Mikhail "
              "Tatiana Boris Yulia"),
        _names("Ivanov Petrov Smirnov Volkov Kuznetsov Sokolov Popov Morozov Levin Kogan "
              "Orlov Zaitsev"),
        (("Russian", 0.75),),
    ),
    "polish": (
        _names("Krzysztof Tomasz Agnieszka Katarzyna Marek Piotr Magdalena Joanna Paweł "
              "Ewa"),
        _names("Kowalski Nowak Wiśniewski Wójcik Kamiński Lewandowski Zieliński Szymański "
              "Dąbrowski Kozłowski"),
        (("Polish", 0.75),),
    ),
    "haitian": (
        _names("Jean Marie Pierre Fabiola Nadège Frantz Ketly Wilner Guerline Reginald"),
        _names("Jean-Baptiste Pierre Joseph Charles Louis Toussaint Dorsainvil Baptiste "
              "Desir Celestin"),
        (("Haitian Creole", 0.75), ("French", 0.4)),
    ),
    "arabic": (
        _names("Omar Ahmed Khalid Yasmin Layla Nadia Sami Rami Hana Karim Tarek Dina"),
        _names("Haddad Khoury Nasser Saleh Hassan Mansour Aziz Farah Awad Mourad"),
        (("Arabic", 0.7),),
    ),
    "filipino": (
        _names("Maria Jose Mark Kristine Joanna Paolo Angelica Ramon Jericho Liza"),
        _names("Santos Bautista Villanueva Aquino Dizon Manalo Pascual Dela_Cruz "
              "Macaraeg Soriano"),
        (("Tagalog", 0.6),),
    ),
    "armenian": (
        _names("Aram Armen Ani Narine Tigran Lilit Hovik Anahit Vahe Sona"),
        _names("Petrosyan Hakobyan Sarkisian Avetisyan Grigoryan Manukyan Karapetyan "
              "Gasparyan"),
        (("Armenian", 0.75), ("Russian", 0.15)),
    ),
    "persian": (
        _names("Ali Reza Shirin Leila Navid Parisa Arash Mitra Kian Roya"),
        _names("Rahimi Tehrani Mohammadi Karimi Hosseini Shirazi Javadi Ahmadi"),
        (("Persian", 0.7),),
    ),
    "amharic": (
        _names("Abebe Dawit Selam Hiwot Tesfaye Meron Yonas Bethlehem Samuel Tsion"),
        _names("Bekele Haile Gebre Tadesse Alemu Desta Mekonnen Girma Wolde"),
        (("Amharic", 0.7),),
    ),
    "brazilian": (
        _names("Rafael Thiago Camila Fernanda Bruno Juliana Gustavo Larissa"),
        _names("Silva Santos Oliveira Souza Costa Ferreira Almeida Carvalho"),
        (("Portuguese", 0.85), ("Spanish", 0.3)),
    ),
}
# Some people of a given heritage carry a common American first name instead.
_HERITAGE_FIRST_SHARE = {"hispanic": 0.8, "haitian": 0.8, "russian": 0.75, "polish": 0.75,
                         "amharic": 0.8, "brazilian": 0.8, "persian": 0.75, "armenian": 0.75}
_RARE_LANGUAGES = (("French", 0.015), ("Italian", 0.01), ("German", 0.01), ("Hebrew", 0.01),
                   ("American Sign Language", 0.008))


# -- clinical vocabulary -----------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """A kind of clinician: specialty codes, credentials and what they treat."""

    key: str
    specialty: str  # primary NUCC code
    core_conditions: tuple[str, ...]
    more_conditions: tuple[str, ...]
    services: tuple[str, ...]
    personal_injury: bool  # bills auto/LOP when the practice does
    telehealth: float


ROLES: dict[str, Role] = {r.key: r for r in (
    Role("chiropractor", "111N00000X",
         ("low back pain", "neck pain", "whiplash"),
         ("sciatica", "headache", "mid back pain", "shoulder pain", "herniated disc",
          "muscle spasm", "sprains and strains", "TMJ disorder", "radiculopathy",
          "sports injuries", "degenerative disc disease", "hip pain", "facet joint syndrome"),
         ("spinal manipulation", "soft tissue therapy", "corrective exercise",
          "spinal decompression", "electrical muscle stimulation", "digital X-ray",
          "therapeutic ultrasound", "kinesio taping",
          "instrument-assisted soft tissue mobilization"),
         True, 0.0),
    Role("physical_therapist", "225100000X",
         ("low back pain", "knee pain", "shoulder pain"),
         ("neck pain", "whiplash", "sciatica", "post-surgical rehabilitation",
          "rotator cuff injury", "sprains and strains", "sports injuries", "hip pain",
          "ankle sprain", "balance disorders", "vertigo", "concussion", "plantar fasciitis",
          "tendinitis", "fractures", "ACL injury"),
         ("manual therapy", "therapeutic exercise", "dry needling", "gait training",
          "vestibular rehabilitation", "post-surgical rehabilitation",
          "functional capacity evaluation", "aquatic therapy", "work conditioning",
          "blood flow restriction training"),
         True, 0.1),
    Role("occupational_therapist", "225X00000X",
         ("hand injuries", "carpal tunnel syndrome"),
         ("wrist fracture", "traumatic brain injury", "concussion", "tendinitis",
          "cognitive deficits", "shoulder pain", "nerve injury"),
         ("hand therapy", "custom splinting", "activities of daily living training",
          "cognitive rehabilitation", "ergonomic assessment", "return-to-work planning"),
         True, 0.15),
    Role("massage_therapist", "225700000X",
         ("muscle spasm", "neck pain", "low back pain"),
         ("whiplash", "headache", "shoulder pain", "myofascial pain", "sports injuries",
          "stress", "TMJ disorder", "scar tissue"),
         ("deep tissue massage", "myofascial release", "sports massage", "trigger point therapy",
          "medical massage", "lymphatic drainage", "cupping"),
         True, 0.0),
    Role("acupuncturist", "171100000X",
         ("chronic pain", "low back pain", "neck pain"),
         ("headache", "migraine", "sciatica", "whiplash", "anxiety", "insomnia", "stress",
          "knee pain", "shoulder pain"),
         ("acupuncture", "electroacupuncture", "cupping", "gua sha", "herbal medicine",
          "moxibustion"),
         True, 0.05),
    Role("pain_medicine", "208VP0000X",
         ("chronic pain", "low back pain", "neck pain"),
         ("sciatica", "radiculopathy", "herniated disc", "facet joint syndrome",
          "spinal stenosis", "complex regional pain syndrome", "whiplash", "headache",
          "peripheral neuropathy", "degenerative disc disease", "post-traumatic headache"),
         ("epidural steroid injection", "facet joint injection", "radiofrequency ablation",
          "trigger point injection", "nerve block", "medication management",
          "spinal cord stimulation", "sacroiliac joint injection"),
         True, 0.2),
    Role("pm_r", "208100000X",
         ("low back pain", "neck pain", "whiplash"),
         ("radiculopathy", "sciatica", "concussion", "traumatic brain injury",
          "peripheral neuropathy", "spinal cord injury", "chronic pain", "sports injuries"),
         ("EMG/nerve conduction study", "musculoskeletal ultrasound", "joint injection",
          "rehabilitation planning", "impairment rating", "trigger point injection"),
         True, 0.2),
    Role("orthopaedic_surgeon", "207X00000X",
         ("fractures", "knee pain", "shoulder pain"),
         ("rotator cuff injury", "ACL injury", "meniscus tear", "herniated disc", "hip pain",
          "wrist fracture", "ankle sprain", "sports injuries", "low back pain",
          "carpal tunnel syndrome", "tendinitis"),
         ("orthopedic consultation", "arthroscopic surgery", "joint injection", "fracture care",
          "spine surgery", "platelet-rich plasma injection", "independent medical evaluation"),
         True, 0.1),
    Role("neurologist", "2084N0400X",
         ("concussion", "headache", "traumatic brain injury"),
         ("migraine", "post-traumatic headache", "vertigo", "peripheral neuropathy",
          "radiculopathy", "memory problems", "post-concussion syndrome",
          "carpal tunnel syndrome"),
         ("concussion evaluation", "EMG/nerve conduction study", "EEG", "headache management",
          "cognitive screening", "Botox for migraine"),
         True, 0.3),
    Role("family_physician", "207Q00000X",
         ("whiplash", "sprains and strains", "low back pain"),
         ("neck pain", "headache", "concussion", "anxiety", "insomnia", "knee pain",
          "shoulder pain", "chronic pain", "bruises and contusions"),
         ("injury evaluation", "physical exam", "referral coordination", "medication management",
          "work and school notes", "preventive care"),
         True, 0.35),
    Role("internist", "207R00000X",
         ("whiplash", "sprains and strains", "chronic pain"),
         ("neck pain", "low back pain", "headache", "insomnia", "hypertension"),
         ("injury evaluation", "physical exam", "medication management", "referral coordination"),
         False, 0.35),
    Role("nurse_practitioner", "363LF0000X",
         ("whiplash", "sprains and strains", "low back pain"),
         ("neck pain", "headache", "knee pain", "shoulder pain", "chronic pain"),
         ("injury evaluation", "medication management", "physical exam", "follow-up care"),
         True, 0.3),
    Role("counselor", "101YM0800X",  # or 101YP2500X where counselors are LPCs
         ("anxiety", "PTSD", "depression"),
         ("driving anxiety", "adjustment disorder", "grief", "insomnia", "panic attacks",
          "chronic pain coping", "stress", "phobias"),
         ("individual therapy", "trauma-focused CBT", "EMDR", "cognitive behavioral therapy",
          "mindfulness-based therapy", "family therapy"),
         False, 0.7),
    Role("psychologist", "103TC0700X",
         ("PTSD", "anxiety", "depression"),
         ("traumatic brain injury", "concussion", "memory problems", "driving anxiety",
          "adjustment disorder", "chronic pain coping", "insomnia", "panic attacks"),
         ("psychological evaluation", "neuropsychological testing", "cognitive behavioral therapy",
          "EMDR", "prolonged exposure therapy", "pain psychology"),
         False, 0.6),
    Role("social_worker", "1041C0700X",
         ("anxiety", "PTSD", "depression"),
         ("grief", "adjustment disorder", "stress", "driving anxiety"),
         ("individual therapy", "trauma-focused CBT", "case management", "support groups"),
         False, 0.7),
    Role("psychiatrist", "2084P0800X",
         ("depression", "anxiety", "PTSD"),
         ("insomnia", "panic attacks", "bipolar disorder", "post-concussion syndrome"),
         ("psychiatric evaluation", "medication management", "telepsychiatry"),
         False, 0.6),
)}
for _role in ROLES.values():
    assert _role.specialty in SPECIALTY_BY_CODE, _role

# MDs and DOs, roughly three to one.
_PHYSICIANS = frozenset({"pain_medicine", "pm_r", "orthopaedic_surgeon", "neurologist",
                         "family_physician", "internist", "psychiatrist"})


def _credentials_and_specialties(
    rng: random.Random, role: Role, state: str
) -> tuple[list[str], list[str]]:
    code = role.specialty
    extra: list[str] = []
    if role.key in _PHYSICIANS:
        creds = ["MD" if rng.random() < 0.75 else "DO"]
        if role.key == "pain_medicine" and rng.random() < 0.5:
            code = "208VP0014X"  # interventional pain medicine
        elif role.key == "pm_r" and rng.random() < 0.4:
            extra = ["2081P2900X"]  # pain medicine (PM&R)
    elif role.key == "chiropractor":
        creds = ["DC"]
        if rng.random() < 0.15:
            creds.append("CCSP")
            extra = ["111NS0005X"]  # sports chiropractor
    elif role.key == "physical_therapist":
        r = rng.random()
        if r < 0.18:
            creds = ["PT", "DPT", "OCS"]
            extra = ["2251X0800X"]  # orthopedic physical therapist
        elif r < 0.88:
            creds = ["PT", "DPT"]
        else:
            creds = ["PT", "MSPT"]
    elif role.key == "occupational_therapist":
        creds = ["OTR/L"] if rng.random() < 0.7 else ["OTD", "OTR/L"]
        if rng.random() < 0.3:
            creds.append("CHT")
    elif role.key == "massage_therapist":
        creds = ["LMT"]
    elif role.key == "acupuncturist":
        creds = ["LAc"] if rng.random() < 0.8 else ["LAc", "DACM"]
    elif role.key == "counselor":
        if state in LMHC_STATES:
            creds = ["LMHC"]
        else:
            creds, code = ["LPC"], "101YP2500X"  # professional counselor
    elif role.key == "psychologist":
        creds = ["PhD"] if rng.random() < 0.55 else ["PsyD"]
    elif role.key == "social_worker":
        creds = ["LCSW"]
    elif role.key == "nurse_practitioner":
        creds = ["APRN", "FNP-C"]
    else:  # pragma: no cover - every role is handled above
        raise AssertionError(role.key)
    return creds, [code, *extra]


# -- practices and firms -----------------------------------------------------------------


@dataclass(frozen=True)
class PracticeType:
    key: str
    weight: float
    lead: str  # role of the first provider
    members: tuple[tuple[str, float], ...]  # roles of the others
    size: tuple[int, int]
    personal_injury: float  # chance the practice takes auto/LOP cases
    names: tuple[str, ...]


PRACTICE_TYPES: tuple[PracticeType, ...] = (
    PracticeType(
        "chiropractic", 30, "chiropractor",
        (("chiropractor", 75), ("massage_therapist", 20), ("physical_therapist", 5)), (1, 4),
        0.8,
        ("{hood} Chiropractic", "{last} Chiropractic", "{last} Family Chiropractic",
         "{hood} Chiropractic & Wellness", "{brand} Spine & Injury Chiropractic",
         "Align Chiropractic of {hood}", "{hood} Spine Center",
         "Back in Motion Chiropractic of {hood}"),
    ),
    PracticeType(
        "physical_therapy", 19, "physical_therapist",
        (("physical_therapist", 78), ("occupational_therapist", 10), ("massage_therapist", 12)),
        (2, 6), 0.55,
        ("{hood} Physical Therapy", "{brand} Sports & Spine Physical Therapy",
         "{last} Physical Therapy", "Motion PT of {hood}", "{brand} Rehab & Performance",
         "Restore Physical Therapy of {hood}"),
    ),
    PracticeType(
        "multidisciplinary", 14, "chiropractor",
        (("chiropractor", 28), ("physical_therapist", 25), ("pain_medicine", 11), ("pm_r", 6),
         ("massage_therapist", 13), ("acupuncturist", 8), ("nurse_practitioner", 6),
         ("orthopaedic_surgeon", 3)),
        (4, 8), 1.0,
        ("{brand} Accident & Injury Center", "{hood} Spine & Rehab",
         "{brand} Injury Medical Group", "{hood} Spine & Sports Medicine",
         "{brand} Auto Injury Clinic", "{brand} Integrated Injury Care"),
    ),
    PracticeType(
        "pain", 7, "pain_medicine",
        (("pain_medicine", 50), ("pm_r", 28), ("nurse_practitioner", 22)), (2, 4), 0.8,
        ("{brand} Pain Management", "{hood} Pain & Spine Specialists",
         "{brand} Interventional Pain Associates", "{last} Pain Institute"),
    ),
    PracticeType(
        "orthopaedics", 4, "orthopaedic_surgeon",
        (("orthopaedic_surgeon", 40), ("physical_therapist", 45), ("pm_r", 10),
         ("nurse_practitioner", 5)), (3, 6), 0.5,
        ("{brand} Orthopedic Associates", "{hood} Orthopaedics & Sports Medicine",
         "{last} Orthopedic Group", "{brand} Bone & Joint Institute"),
    ),
    PracticeType(
        "neurology", 3, "neurologist",
        (("neurologist", 65), ("psychologist", 35)), (2, 3), 0.5,
        ("{brand} Neurology & Concussion Center", "{hood} Neurology Associates",
         "{brand} Headache & Brain Injury Clinic"),
    ),
    PracticeType(
        "behavioral", 9, "counselor",
        (("counselor", 48), ("psychologist", 30), ("social_worker", 16), ("psychiatrist", 6)),
        (2, 5), 0.35,
        ("{hood} Counseling Associates", "{brand} Trauma Recovery Center",
         "{hood} Psychological Services", "{brand} Center for Anxiety & PTSD",
         "{last} Behavioral Health"),
    ),
    PracticeType(
        "primary_care", 5, "family_physician",
        (("family_physician", 55), ("internist", 20), ("nurse_practitioner", 25)), (2, 4), 0.45,
        ("{hood} Family Medicine", "{brand} Injury & Urgent Care", "{hood} Primary Care",
         "{last} Family Health"),
    ),
    PracticeType(
        "acupuncture", 4, "acupuncturist",
        (("acupuncturist", 60), ("massage_therapist", 40)), (2, 3), 0.5,
        ("{hood} Acupuncture & Wellness", "{hood} Acupuncture & Massage",
         "{last} Integrative Health", "{brand} Acupuncture Collective"),
    ),
)

FIRM_SUFFIXES = {
    "NY": ("PLLC", "LLP", "P.C."), "CA": ("APC", "LLP", "APLC"), "IL": ("LLC", "Ltd.", "P.C."),
    "TX": ("PLLC", "P.C.", "LLP"), "AZ": ("PLLC", "P.C.", "PLC"), "GA": ("LLC", "P.C.", "LLP"),
    "CO": ("LLC", "P.C.", "LLP"), "FL": ("P.A.", "PLLC", "LLP"), "WA": ("PLLC", "P.S.", "LLP"),
}
# (low, high, digits) of plausible bar or registration numbers per state.
BAR_NUMBERS = {
    "NY": (2_000_000, 5_999_999, 7), "CA": (150_000, 349_999, 6), "IL": (6_190_000, 6_339_999, 7),
    "TX": (24_000_000, 24_129_999, 8), "AZ": (10_000, 39_999, 6), "GA": (100_000, 799_999, 6),
    "CO": (20_000, 59_999, 5), "FL": (100_000, 1_299_999, 7), "WA": (10_000, 59_999, 5),
}


# -- the plan ----------------------------------------------------------------------------


@dataclass
class LocationPlan:
    neighborhood: str  # for naming only; not part of the location
    name: str
    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    phone: str


@dataclass
class ProviderPlan:
    first_name: str
    last_name: str
    npi: str
    credentials: list[str]
    specialties: list[str]  # NUCC codes, primary first
    locations: list[int]  # indexes into the organization's locations
    conditions_treated: list[str]
    services: list[str]
    insurance_accepted: list[str]
    languages: list[str]
    accepting_referrals: bool
    accepting_new_patients: bool
    accepts_lop: bool
    telehealth: bool


@dataclass
class AttorneyPlan:
    first_name: str
    last_name: str
    bar_number: str
    bar_state: str
    practice_areas: list[str]
    locations: list[int]
    languages: list[str]
    accepting_clients: bool
    accepts_lop_cases: bool


@dataclass
class OrgPlan:
    metro: str
    kind: str  # "practice" | "law_firm"
    name: str
    website: str
    phone: str
    npi: str | None
    accepts_lop: bool
    lop_max_outstanding_cents: int | None
    lop_policy_text: str | None
    locations: list[LocationPlan] = field(default_factory=list)
    providers: list[ProviderPlan] = field(default_factory=list)
    attorneys: list[AttorneyPlan] = field(default_factory=list)


def npi_with_check_digit(base9: str) -> str:
    """Append the Luhn check digit computed over 80840 + the first nine NPI digits."""
    total = 0
    for i, ch in enumerate(reversed("80840" + base9)):
        d = int(ch)
        if i % 2 == 0:  # doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return base9 + str((10 - total % 10) % 10)


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), deterministically."""
    wsum = sum(weights)
    exact = [total * w / wsum for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _weighted(rng: random.Random, items: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def _weighted_sample(rng: random.Random, items: Sequence[tuple[str, float]], k: int
                     ) -> list[str]:
    pool = list(items)
    out: list[str] = []
    while pool and len(out) < k:
        pick = _weighted(rng, pool)
        out.append(pick)
        pool = [(name, w) for name, w in pool if name != pick]
    return out


def _slug(value: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only.lower().replace("&", "and")).strip("-")


class _Planner:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = random.Random(f"{seed}:identifiers")
        self.npis: set[str] = set()
        self.bars: set[tuple[str, str]] = set()
        self.people: set[tuple[str, str]] = set()
        self.org_names: set[str] = set()
        self.phones: dict[str, int] = {}

    # identifiers ---------------------------------------------------------------

    def npi(self, entity_type: str = "1") -> str:
        while True:
            npi = npi_with_check_digit(entity_type + f"{self.ids.randrange(10**8):08d}")
            if npi not in self.npis:
                assert npi_check_digit_ok(npi)
                self.npis.add(npi)
                return npi

    def bar_number(self, state: str) -> str:
        low, high, digits = BAR_NUMBERS.get(state, (10_000, 999_999, 6))
        while True:
            number = f"{self.ids.randint(low, high):0{digits}d}"
            if (state, number) not in self.bars:
                self.bars.add((state, number))
                return number

    def phone(self, area_code: str) -> str:
        # 555-0100..0199 are reserved for fiction; cycle through them per area code.
        n = self.phones.get(area_code, self.ids.randrange(100))
        self.phones[area_code] = (n + 37) % 100
        return f"({area_code}) 555-01{n:02d}"

    # people --------------------------------------------------------------------

    def person(self, metro: Metro) -> tuple[str, str, list[str]]:
        rng = self.rng
        attempts = 0
        while True:
            heritage = _weighted(rng, metro.heritage)
            if heritage == "general":
                first, last = rng.choice(GENERAL_FIRST), rng.choice(GENERAL_LAST)
                languages = [("Spanish", metro.spanish)]
            else:
                firsts, lasts, languages_ = HERITAGE[heritage]
                own_first = rng.random() < _HERITAGE_FIRST_SHARE.get(heritage, 0.55)
                first = rng.choice(firsts) if own_first else rng.choice(GENERAL_FIRST)
                last = rng.choice(lasts)
                # A common American first name makes the heritage language a little rarer.
                languages = [(lang, p if own_first else p * 0.6) for lang, p in languages_]
                if heritage != "hispanic" and all(lang != "Spanish" for lang, _ in languages):
                    languages.append(("Spanish", metro.spanish * 0.5))
            if (first, last) not in self.people or attempts > 50:
                self.people.add((first, last))
                break
            attempts += 1
        spoken = ["English"]
        for lang, p in (*languages, *_RARE_LANGUAGES):
            if lang not in spoken and rng.random() < p:
                spoken.append(lang)
        return first, last, spoken

    # places --------------------------------------------------------------------

    def locations(self, metro: Metro, n: int, label: str) -> list[LocationPlan]:
        rng = self.rng
        areas = rng.sample(list(metro.areas), n)
        out = []
        for area in areas:
            centroid = geo.zip_centroid(area.zip_code)
            if centroid is None or centroid.state != metro.state:
                raise AssertionError(f"demo ZIP {area.zip_code} is not a {metro.state} ZIP")
            low, high = metro.street_numbers
            line1 = f"{rng.randint(low, high)} {rng.choice(area.streets)}"
            line2 = None
            if rng.random() < 0.65:
                if metro.state == "NY" and rng.random() < 0.4:
                    line2 = f"Floor {rng.randint(2, 12)}"
                else:
                    unit = rng.choice(("00", "01", "02", "05", "10", "20", "50"))
                    line2 = f"Suite {rng.randint(1, 12)}{unit}"
            hood = area.neighborhood.removeprefix("the ")
            out.append(LocationPlan(hood, f"{hood[0].upper()}{hood[1:]} {label}", line1, line2,
                                    centroid.city, centroid.state, area.zip_code,
                                    self.phone(area.area_code)))
        return out

    def org_name(self, templates: Sequence[str], metro: Metro, hood: str, last: str,
                 suffix: str = "", **names: str) -> str:
        rng = self.rng
        for attempt in range(50):
            template = rng.choice(templates)
            name = template.format(hood=hood, brand=rng.choice(metro.brands), last=last,
                                   **names)
            if attempt > 10:
                name = f"{name} of {hood}" if "{hood}" not in template else f"{name} {attempt}"
            if suffix:
                name = f"{name}, {suffix}"
            if name not in self.org_names:
                self.org_names.add(name)
                return name
        raise AssertionError("could not name an organization")

    # providers -----------------------------------------------------------------

    def practice(self, metro: Metro, budget: int) -> OrgPlan:
        rng = self.rng
        ptype = rng.choices(PRACTICE_TYPES, weights=[t.weight for t in PRACTICE_TYPES])[0]
        size = min(budget, rng.randint(*ptype.size))
        roles = [ptype.lead] + [_weighted(rng, ptype.members) for _ in range(size - 1)]
        n_locations = 1 + (rng.random() < 0.25 + 0.07 * size) + (size >= 4 and rng.random() < 0.3)
        n_locations = min(n_locations, 3, len(metro.areas))
        pi = rng.random() < ptype.personal_injury
        lop = pi and rng.random() < 0.8
        people = [self.person(metro) for _ in roles]
        org = OrgPlan(
            metro=metro.key, kind="practice", name="", website="", phone="",
            npi=self.npi("2"), accepts_lop=lop,
            lop_max_outstanding_cents=(
                rng.choice((1_500_000, 2_500_000, 5_000_000)) if lop else None
            ),
            lop_policy_text=(
                "We treat patients injured in auto accidents on a letter of protection from "
                "their personal-injury attorney; balances are due at settlement."
            ) if lop else None,
        )
        org.locations = self.locations(metro, n_locations, "Clinic")
        org.name = self.org_name(ptype.names, metro, org.locations[0].neighborhood, people[0][1])
        org.website = f"https://{_slug(org.name)[:50]}.{DEMO_DOMAIN}"
        org.phone = org.locations[0].phone
        for i, (role_key, (first, last, languages)) in enumerate(zip(roles, people, strict=True)):
            role = ROLES[role_key]
            locs = [i % n_locations]
            if n_locations > 1 and rng.random() < 0.3:
                locs.append((locs[0] + 1 + rng.randrange(n_locations - 1)) % n_locations)
            org.providers.append(self.provider(metro, role, first, last, languages, locs, pi, lop))
        return org

    def provider(self, metro: Metro, role: Role, first: str, last: str, languages: list[str],
                 locations: list[int], pi: bool, practice_lop: bool) -> ProviderPlan:
        rng = self.rng
        creds, specialties = _credentials_and_specialties(rng, role, metro.state)
        core = rng.sample(role.core_conditions, rng.randint(2, len(role.core_conditions)))
        more = rng.sample(role.more_conditions, min(len(role.more_conditions), rng.randint(2, 6)))
        services = rng.sample(role.services, min(len(role.services), rng.randint(2, 5)))
        if role.personal_injury:
            accepts_lop = practice_lop and rng.random() < 0.92
        else:
            accepts_lop = practice_lop and rng.random() < 0.55
        return ProviderPlan(
            first_name=first, last_name=last, npi=self.npi("1"), credentials=creds,
            specialties=specialties, locations=locations,
            conditions_treated=core + more, services=services,
            insurance_accepted=self.insurance(metro.state, role, pi, accepts_lop),
            languages=languages,
            accepting_referrals=rng.random() < 0.95,
            accepting_new_patients=rng.random() < 0.88,
            accepts_lop=accepts_lop,
            telehealth=rng.random() < role.telehealth,
        )

    def insurance(self, state: str, role: Role, pi: bool, accepts_lop: bool) -> list[str]:
        rng = self.rng
        k = rng.randint(2, 5)
        plans: list[str] = []
        if pi and role.personal_injury:
            plans.append("auto_pip" if state in PIP_STATES else "med_pay")
            if state in PIP_STATES and rng.random() < 0.3:
                plans.append("med_pay")
            if role.key not in {"massage_therapist", "acupuncturist"} and rng.random() < 0.4:
                plans.append("workers_comp")
        if accepts_lop:
            plans.insert(min(1, len(plans)), "lop")
        cash_first = role.key in {"massage_therapist", "acupuncturist", "counselor",
                                  "psychologist", "social_worker"}
        blue = "anthem" if state in ANTHEM_STATES else "bcbs"
        pool: list[tuple[str, float]] = [
            (blue, 1.0), ("aetna", 0.8), ("unitedhealthcare", 0.8), ("cigna", 0.6),
            ("humana", 0.25), ("medicaid", 0.3), ("tricare", 0.12), ("va_community_care", 0.1),
            ("self_pay", 2.5 if cash_first else 0.35),
        ]
        if state in KAISER_STATES:
            pool.append(("kaiser", 0.4))
        if role.key not in {"massage_therapist", "acupuncturist", "counselor"}:
            pool.append(("medicare", 0.6))
        pool = [(slug, w) for slug, w in pool if slug not in plans]
        plans += _weighted_sample(rng, pool, max(0, k - len(plans)))
        assert set(plans) <= INSURANCE_SLUGS, plans
        assert 2 <= len(plans) <= 5, plans
        return plans

    # attorneys -----------------------------------------------------------------

    def firm(self, metro: Metro, budget: int) -> OrgPlan:
        rng = self.rng
        size = min(budget, _weighted_int(rng, ((1, 35), (2, 25), (3, 15), (4, 12), (5, 8),
                                              (6, 5))))
        n_locations = 1 + (size >= 3 and rng.random() < 0.45) + (size >= 5 and rng.random() < 0.4)
        focus = _weighted(rng, (("personal_injury", 72), ("pi_workers_comp", 14),
                                ("workers_comp", 5), ("medical_malpractice", 6)))
        people = [self.person(metro) for _ in range(size)]
        lasts = list(dict.fromkeys(p[1] for p in people))
        suffix = rng.choice(FIRM_SUFFIXES.get(metro.state, ("LLP",)))
        org = OrgPlan(
            metro=metro.key, kind="law_firm", name="", website="", phone="", npi=None,
            accepts_lop=focus != "workers_comp", lop_max_outstanding_cents=None,
            lop_policy_text=(
                "We issue letters of protection to treating providers for clients with "
                "open personal-injury claims."
            ) if focus != "workers_comp" else None,
        )
        org.locations = self.locations(metro, n_locations, "Office")
        # Partners' surnames name the firm ({a}, {b}, {c}); larger firms may brand instead.
        if size == 1:
            templates: tuple[str, ...] = ("Law Offices of {first} {last}", "{last} Injury Law",
                                          "{last} Law Firm")
        elif len(lasts) == 1:
            templates = ("{last} Law Group", "{last} Injury Lawyers")
        elif len(lasts) == 2:
            templates = ("{a} & {b}", "{a} {b} Injury Lawyers", "{last} Law Group")
        else:
            templates = ("{a}, {b} & {c}", "{a} & {b}", "{brand} Injury Law Group",
                         "{brand} Accident Attorneys", "{last} Trial Lawyers")
        extra = {"first": people[0][0], "a": lasts[0], "b": lasts[1 % len(lasts)],
                 "c": lasts[2 % len(lasts)]}
        org.name = self.org_name(templates, metro, org.locations[0].neighborhood, lasts[0],
                                 suffix, **extra)
        org.website = f"https://{_slug(org.name)[:50]}.{DEMO_DOMAIN}"
        org.phone = org.locations[0].phone
        for i, (first, last, languages) in enumerate(people):
            areas = self.practice_areas(focus)
            locs = [i % n_locations]
            if n_locations > 1 and rng.random() < 0.2:
                locs.append((locs[0] + 1) % n_locations)
            org.attorneys.append(AttorneyPlan(
                first_name=first, last_name=last, bar_number=self.bar_number(metro.state),
                bar_state=metro.state, practice_areas=areas, locations=locs, languages=languages,
                accepting_clients=rng.random() < 0.94,
                accepts_lop_cases=org.accepts_lop and rng.random() < 0.9,
            ))
        return org

    def practice_areas(self, focus: str) -> list[str]:
        rng = self.rng
        if focus == "workers_comp":
            areas = ["workers_comp"]
            if rng.random() < 0.3:
                areas.append("personal_injury")
        elif focus == "medical_malpractice":
            areas = ["medical_malpractice", "personal_injury"]
        else:
            areas = ["personal_injury"]
            if focus == "pi_workers_comp" or rng.random() < 0.12:
                areas.append("workers_comp")
            if rng.random() < 0.4:
                areas.append("premises_liability")
            if rng.random() < 0.1:
                areas.append("medical_malpractice")
        assert set(areas) <= set(PRACTICE_AREAS)
        return areas


def _weighted_int(rng: random.Random, items: Sequence[tuple[int, float]]) -> int:
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def build_plan(providers: int = 360, attorneys: int = 60, *, seed: int = DEMO_SEED
               ) -> list[OrgPlan]:
    """The demo organizations with their locations and people. Pure and deterministic."""
    if providers < 0 or attorneys < 0:
        raise ValueError("providers and attorneys must not be negative")
    planner = _Planner(seed)
    weights = [m.weight for m in METROS]
    orgs: list[OrgPlan] = []
    for metro, n_providers, n_attorneys in zip(
        METROS, _allocate(providers, weights), _allocate(attorneys, weights), strict=True
    ):
        left = n_providers
        while left > 0:
            org = planner.practice(metro, left)
            left -= len(org.providers)
            orgs.append(org)
        left = n_attorneys
        while left > 0:
            org = planner.firm(metro, left)
            left -= len(org.attorneys)
            orgs.append(org)
    return orgs


# -- writing it --------------------------------------------------------------------------


async def _replace_taken(session: AsyncSession, plan: list[OrgPlan], seed: int) -> None:
    """Rows from outside the demo may already hold a planned NPI or bar number; those
    people get other (still deterministic) identifiers."""
    providers = [p for o in plan for p in o.providers]
    attorneys = [a for o in plan for a in o.attorneys]
    taken_npis: set[str] = set()
    if providers:
        taken_npis = set((await session.execute(
            select(Provider.npi).where(Provider.npi.in_([p.npi for p in providers]))
        )).scalars())
    taken_bars: set[tuple[str, str]] = set()
    if attorneys:
        rows = await session.execute(
            select(Attorney.bar_state, Attorney.bar_number)
            .where(Attorney.bar_number.in_([a.bar_number for a in attorneys]))
        )
        taken_bars = {(state, number) for state, number in rows.all()}
    clashing_providers = [p for p in providers if p.npi in taken_npis]
    clashing_attorneys = [a for a in attorneys if (a.bar_state, a.bar_number) in taken_bars]
    if not clashing_providers and not clashing_attorneys:
        return
    planner = _Planner(seed + 1)
    planner.npis = {p.npi for p in providers} | taken_npis
    planner.bars = {(a.bar_state, a.bar_number) for a in attorneys} | taken_bars
    for p in clashing_providers:
        p.npi = planner.npi("1")
        while await directory_service._npi_taken(session, p.npi):
            p.npi = planner.npi("1")
    for a in clashing_attorneys:
        a.bar_number = planner.bar_number(a.bar_state)
        while await directory_service._bar_taken(session, a.bar_state, a.bar_number):
            a.bar_number = planner.bar_number(a.bar_state)


async def _write(session: AsyncSession, plan: list[OrgPlan]) -> tuple[int, int]:
    """Create the plan through the service layer: organizations as the platform operator,
    locations and people as each organization's own directory writer."""
    platform = Principal("api_key", uuid.uuid4(), None, frozenset({PLATFORM_ADMIN}))
    await org_service.create_organization(
        session, platform, data=OrganizationCreate(name=MARKER_NAME, kind="partner")
    )
    n_providers = n_attorneys = 0
    for o in plan:
        org = await org_service.create_organization(
            session, platform, data=OrganizationCreate.model_validate({
                "name": o.name, "kind": o.kind, "npi": o.npi, "phone": o.phone,
                "website": o.website,
                "lop_policy": {"accepts_lop": o.accepts_lop,
                               "max_outstanding_cents": o.lop_max_outstanding_cents,
                               "policy_text": o.lop_policy_text},
            }),
        )
        principal = Principal("api_key", uuid.uuid4(), org.id, frozenset({"directory:write"}))
        location_ids = []
        for loc in o.locations:
            row = await org_service.create_location(
                session, principal, organization_id=org.id,
                data=LocationCreate.model_validate({
                    "name": loc.name, "phone": loc.phone,
                    "address": {"line1": loc.line1, "line2": loc.line2, "city": loc.city,
                                "state": loc.state, "postal_code": loc.postal_code},
                }),
            )
            location_ids.append(row.id)
        for p in o.providers:
            await directory_service.create_provider(
                session, principal, data=ProviderCreate.model_validate({
                    "npi": p.npi, "first_name": p.first_name, "last_name": p.last_name,
                    "credentials": p.credentials,
                    "specialties": [{"code": c, "primary": i == 0}
                                    for i, c in enumerate(p.specialties)],
                    "location_ids": [location_ids[i] for i in p.locations],
                    "conditions_treated": p.conditions_treated, "services": p.services,
                    "insurance_accepted": p.insurance_accepted, "languages": p.languages,
                    "accepting_referrals": p.accepting_referrals,
                    "accepting_new_patients": p.accepting_new_patients,
                    "accepts_lop": p.accepts_lop, "telehealth": p.telehealth,
                }),
            )
            n_providers += 1
        for a in o.attorneys:
            await directory_service.create_attorney(
                session, principal, data=AttorneyCreate.model_validate({
                    "first_name": a.first_name, "last_name": a.last_name,
                    "bar_number": a.bar_number, "bar_state": a.bar_state,
                    "practice_areas": a.practice_areas,
                    "location_ids": [location_ids[i] for i in a.locations],
                    "languages": a.languages, "accepting_clients": a.accepting_clients,
                    "accepts_lop_cases": a.accepts_lop_cases,
                }),
            )
            n_attorneys += 1
    return n_providers, n_attorneys


async def _demo_counts(session: AsyncSession) -> tuple[int, int]:
    demo_orgs = select(Organization.id).where(Organization.website.like(f"%.{DEMO_DOMAIN}"))
    counts = []
    for model in (Provider, Attorney):
        stmt = select(func.count()).select_from(model).where(
            model.organization_id.in_(demo_orgs), model.active
        )
        counts.append(int((await session.execute(stmt)).scalar_one()))
    return counts[0], counts[1]


async def seed_demo(url: str, *, providers: int = 360, attorneys: int = 60
                    ) -> dict[str, int | bool]:
    """Load the demo directory into the database at `url`, once.

    Returns {"providers", "attorneys", "already_seeded"}; when the demo was loaded before,
    nothing is written and the counts are the demo's listed providers and attorneys.
    """
    plan = build_plan(providers, attorneys)
    engine = make_engine(get_settings(), url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            # Serialize concurrent seeders; the marker check below then sees the winner.
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            marker = (await session.execute(
                select(Organization.id).where(Organization.name == MARKER_NAME).limit(1)
            )).scalar_one_or_none()
            if marker is not None:
                n_providers, n_attorneys = await _demo_counts(session)
                return {"providers": n_providers, "attorneys": n_attorneys,
                        "already_seeded": True}
            await _replace_taken(session, plan, DEMO_SEED)
            n_providers, n_attorneys = await _write(session, plan)
        return {"providers": n_providers, "attorneys": n_attorneys, "already_seeded": False}
    finally:
        await engine.dispose()
