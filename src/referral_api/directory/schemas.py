from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from referral_api.organizations.schemas import LocationRead
from referral_api.schemas_common import NPI, Name, StrictModel
from referral_api.vocabulary import INSURANCE_SLUGS, PRACTICE_AREAS, lookup_specialty

PracticeArea = Literal["personal_injury", "workers_comp", "premises_liability",
                       "medical_malpractice"]
assert set(PRACTICE_AREAS) == set(PracticeArea.__args__)  # type: ignore[attr-defined]

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=50)]


def _dedupe(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append(v)
    return out


def _check_insurance(values: list[str]) -> list[str]:
    normalized = [v.strip().lower() for v in values]
    unknown = sorted(set(normalized) - INSURANCE_SLUGS)
    if unknown:
        raise ValueError(
            f"unknown insurance plan(s) {', '.join(unknown)}; see GET /v1/insurance-plans"
        )
    return _dedupe(normalized)


InsuranceList = Annotated[list[Tag], Field(max_length=50), AfterValidator(_check_insurance)]
UniqueTags = Annotated[Tags, AfterValidator(_dedupe)]


class SpecialtyAssignment(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=40,
                               description="NUCC taxonomy code (or its slug)")]
    primary: StrictBool = False

    @field_validator("code")
    @classmethod
    def _known(cls, value: str) -> str:
        spec = lookup_specialty(value)
        if spec is None:
            raise ValueError(f"unsupported specialty {value!r}; see GET /v1/specialties")
        return spec.code


def _one_primary(values: list[SpecialtyAssignment]) -> list[SpecialtyAssignment]:
    codes = [v.code for v in values]
    if len(set(codes)) != len(codes):
        raise ValueError("a specialty is listed twice")
    primaries = sum(v.primary for v in values)
    if primaries > 1:
        raise ValueError("at most one specialty is primary")
    if primaries == 0 and values:
        values[0] = SpecialtyAssignment(code=values[0].code, primary=True)
    return values


Specialties = Annotated[list[SpecialtyAssignment], Field(min_length=1, max_length=10),
                        AfterValidator(_one_primary)]
LocationIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=50)]


def _unique_ids(values: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(values))


class ProviderCreate(StrictModel):
    npi: NPI
    first_name: Name
    last_name: Name
    credentials: UniqueTags = []
    specialties: Specialties
    location_ids: Annotated[LocationIds, AfterValidator(_unique_ids)]
    conditions_treated: UniqueTags = []
    services: UniqueTags = []
    insurance_accepted: InsuranceList = []
    languages: UniqueTags = []
    accepting_referrals: StrictBool = True
    accepting_new_patients: StrictBool = True
    accepts_lop: StrictBool = False
    telehealth: StrictBool = False


class ProviderUpdate(StrictModel):
    npi: NPI | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    credentials: UniqueTags | None = None
    specialties: Specialties | None = None
    location_ids: Annotated[LocationIds, AfterValidator(_unique_ids)] | None = None
    conditions_treated: UniqueTags | None = None
    services: UniqueTags | None = None
    insurance_accepted: InsuranceList | None = None
    languages: UniqueTags | None = None
    accepting_referrals: StrictBool | None = None
    accepting_new_patients: StrictBool | None = None
    accepts_lop: StrictBool | None = None
    telehealth: StrictBool | None = None


class SpecialtyRead(BaseModel):
    code: str
    slug: str
    display: str
    primary: bool


class Distance(BaseModel):
    value: float = Field(description="Great-circle distance on WGS84 to the nearest location")
    unit: Literal["mi", "km"]


class ProviderRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    npi: str
    first_name: str
    last_name: str
    credentials: list[str]
    specialties: list[SpecialtyRead]
    location_ids: list[uuid.UUID]
    locations: list[LocationRead]
    conditions_treated: list[str]
    services: list[str]
    insurance_accepted: list[str]
    languages: list[str]
    accepting_referrals: bool
    accepting_new_patients: bool
    accepts_lop: bool
    telehealth: bool
    profile_status: Literal["listed", "claimed"]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ProviderSearchResult(ProviderRead):
    distance: Distance | None = Field(
        None, description="Present when the search has a point (lat/lon or zip)"
    )
    nearest_location: LocationRead | None = None


BarNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30,
                                             pattern=r"^[A-Za-z0-9\-]+$")]
BarState = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                            pattern=r"^[A-Za-z]{2}$")]
PracticeAreas = Annotated[list[PracticeArea], Field(min_length=1, max_length=4)]


class AttorneyCreate(StrictModel):
    first_name: Name
    last_name: Name
    bar_number: BarNumber
    bar_state: BarState
    practice_areas: Annotated[PracticeAreas, AfterValidator(_dedupe)]
    location_ids: Annotated[LocationIds, AfterValidator(_unique_ids)]
    languages: UniqueTags = []
    accepting_clients: StrictBool = True
    accepts_lop_cases: StrictBool = True


class AttorneyUpdate(StrictModel):
    first_name: Name | None = None
    last_name: Name | None = None
    bar_number: BarNumber | None = None
    bar_state: BarState | None = None
    practice_areas: Annotated[PracticeAreas, AfterValidator(_dedupe)] | None = None
    location_ids: Annotated[LocationIds, AfterValidator(_unique_ids)] | None = None
    languages: UniqueTags | None = None
    accepting_clients: StrictBool | None = None
    accepts_lop_cases: StrictBool | None = None


class AttorneyRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    first_name: str
    last_name: str
    bar_number: str
    bar_state: str
    practice_areas: list[PracticeArea]
    location_ids: list[uuid.UUID]
    locations: list[LocationRead]
    languages: list[str]
    accepting_clients: bool
    accepts_lop_cases: bool
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class AttorneySearchResult(AttorneyRead):
    distance: Distance | None = None
    nearest_location: LocationRead | None = None


class SpecialtyItem(BaseModel):
    code: str
    slug: str
    display: str


class InsurancePlanItem(BaseModel):
    slug: str
    display: str


