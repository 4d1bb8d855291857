"""Curated vocabularies: NUCC taxonomy codes we support, payers, practice areas.

No package ships the NUCC Health Care Provider Taxonomy, so the codes we support live
here. Each specialty has a stable small integer id used by the search index; never
renumber, only append.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Specialty:
    id: int
    code: str
    slug: str
    display: str


SPECIALTIES: tuple[Specialty, ...] = (
    Specialty(1, "111N00000X", "chiropractor", "Chiropractor"),
    Specialty(2, "225100000X", "physical_therapist", "Physical Therapist"),
    Specialty(3, "208VP0000X", "pain_medicine", "Pain Medicine"),
    Specialty(4, "208VP0014X", "interventional_pain_medicine", "Interventional Pain Medicine"),
    Specialty(5, "225700000X", "massage_therapist", "Massage Therapist"),
    Specialty(6, "171100000X", "acupuncturist", "Acupuncturist"),
    Specialty(7, "101YM0800X", "mental_health_counselor", "Mental Health Counselor"),
    Specialty(8, "103TC0700X", "clinical_psychologist", "Clinical Psychologist"),
    Specialty(9, "207Q00000X", "family_medicine", "Family Medicine"),
    Specialty(10, "207R00000X", "internal_medicine", "Internal Medicine"),
    Specialty(11, "207X00000X", "orthopaedic_surgery", "Orthopaedic Surgery"),
    Specialty(12, "2084N0400X", "neurology", "Neurology"),
    Specialty(13, "225X00000X", "occupational_therapist", "Occupational Therapist"),
    Specialty(
        14, "208100000X", "physical_medicine_rehabilitation", "Physical Medicine & Rehabilitation"
    ),
    Specialty(
        15, "2081P2900X", "pain_medicine_pmr", "Pain Medicine (Physical Medicine & Rehabilitation)"
    ),
    Specialty(16, "111NS0005X", "sports_chiropractor", "Chiropractor, Sports Physician"),
    Specialty(17, "2251X0800X", "orthopaedic_physical_therapist", "Physical Therapist, Orthopedic"),
    Specialty(18, "101YP2500X", "professional_counselor", "Professional Counselor"),
    Specialty(19, "1041C0700X", "clinical_social_worker", "Clinical Social Worker"),
    Specialty(20, "2084P0800X", "psychiatry", "Psychiatry"),
    Specialty(21, "363LF0000X", "family_nurse_practitioner", "Nurse Practitioner, Family"),
    Specialty(22, "2085R0202X", "diagnostic_radiology", "Diagnostic Radiology"),
)
# The search index uses specialty id 0 for "any specialty".
ANY_SPECIALTY_ID = 0

SPECIALTY_BY_CODE = {s.code: s for s in SPECIALTIES}
SPECIALTY_BY_SLUG = {s.slug: s for s in SPECIALTIES}


def lookup_specialty(value: str) -> Specialty | None:
    """Find a specialty by NUCC code (case-insensitive) or slug."""
    return SPECIALTY_BY_CODE.get(value.strip().upper()) or SPECIALTY_BY_SLUG.get(
        value.strip().lower()
    )


INSURANCE_PLANS: tuple[tuple[str, str], ...] = (
    ("aetna", "Aetna"),
    ("bcbs", "Blue Cross Blue Shield"),
    ("cigna", "Cigna"),
    ("humana", "Humana"),
    ("unitedhealthcare", "UnitedHealthcare"),
    ("kaiser", "Kaiser Permanente"),
    ("anthem", "Anthem"),
    ("medicare", "Medicare"),
    ("medicaid", "Medicaid"),
    ("tricare", "TRICARE"),
    ("va_community_care", "VA Community Care"),
    ("auto_pip", "Auto insurance — Personal Injury Protection (PIP)"),
    ("med_pay", "Auto insurance — Medical Payments (MedPay)"),
    ("workers_comp", "Workers' compensation"),
    ("lop", "Letter of protection"),
    ("self_pay", "Self-pay"),
)
INSURANCE_SLUGS = frozenset(slug for slug, _ in INSURANCE_PLANS)

PRACTICE_AREAS: tuple[str, ...] = (
    "personal_injury",
    "workers_comp",
    "premises_liability",
    "medical_malpractice",
)

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)
