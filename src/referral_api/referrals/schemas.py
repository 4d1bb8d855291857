from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from referral_api.referrals.clinical import billable_icd10cm, specific_question_problem
from referral_api.schemas_common import Name, Phone, StrictModel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=100)]


class ReferralStatus(StrEnum):
    sent = "sent"
    acknowledged = "acknowledged"
    accepted = "accepted"
    declined = "declined"
    scheduled = "scheduled"
    first_visit_completed = "first_visit_completed"
    no_show = "no_show"
    completed = "completed"
    cancelled = "cancelled"


class Urgency(StrEnum):
    routine = "routine"
    urgent = "urgent"


class CaseType(StrEnum):
    general = "general"
    personal_injury = "personal_injury"
    workers_comp = "workers_comp"


class CommunicationMethod(StrEnum):
    phone = "phone"
    fax = "fax"
    email = "email"
    portal = "portal"
    direct = "direct"


def _not_future(value: date) -> date:
    if value > date.today():
        raise ValueError("cannot be in the future")
    if value.year < 1900:
        raise ValueError("is not a plausible date")
    return value


PastDate = Annotated[date, AfterValidator(_not_future)]


class PatientIn(StrictModel):
    first_name: Name
    last_name: Name
    birth_date: PastDate
    phone: Phone | None = None
    email: EmailStr | None = None
    external_id: ExternalId | None = None


class Communication(StrictModel):
    method: CommunicationMethod
    report_expected: StrictBool
    reply_by: date | None = None


def _billable(codes: list[str]) -> list[str]:
    out: list[str] = []
    bad = []
    for i, code in enumerate(codes):
        normalized = billable_icd10cm(code)
        if normalized is None:
            bad.append(i)
        elif normalized not in out:
            out.append(normalized)
    if bad:
        # The codes themselves are clinical data: name the positions, not the values.
        raise ValueError(
            "not billable ICD-10-CM codes (a valid, most specific code is needed) at "
            f"position(s) {', '.join(map(str, bad))}"
        )
    return out


DiagnosisCodes = Annotated[
    list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]],
    Field(max_length=12), AfterValidator(_billable),
]


class NoteIn(StrictModel):
    chief_complaint: Text
    mechanism_of_injury: Text | None = None
    onset_date: PastDate | None = None
    diagnosis_codes: DiagnosisCodes = []
    clinical_impression: Text | None = None
    care_to_date: Text | None = None
    response_to_care: Text | None = None
    clinical_question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                        max_length=2000)]
    precautions: Text | None = None
    communication: Communication | None = None

    @field_validator("clinical_question")
    @classmethod
    def _specific(cls, value: str) -> str:
        problem = specific_question_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class Attestation(StrictModel):
    no_remuneration: StrictBool = Field(
        description="The sender attests that nothing of value is exchanged for this "
        "referral (Anti-Kickback Statute, Stark Law). Must be true."
    )

    @field_validator("no_remuneration")
    @classmethod
    def _must_be_true(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("the no-remuneration attestation must be true to send a referral")
        return value


class ReferralCreate(StrictModel):
    from_provider_id: uuid.UUID | None = None
    from_attorney_id: uuid.UUID | None = None
    to_provider_id: uuid.UUID
    external_id: ExternalId | None = None
    urgency: Urgency = Urgency.routine
    case_type: CaseType = CaseType.general
    attorney_id: uuid.UUID | None = None
    letter_of_protection_id: uuid.UUID | None = None
    patient: PatientIn
    note: NoteIn
    attestation: Attestation

    @model_validator(mode="after")
    def _one_sender(self) -> ReferralCreate:
        if (self.from_provider_id is None) == (self.from_attorney_id is None):
            raise ValueError("give exactly one of from_provider_id and from_attorney_id")
        return self


class DeclineIn(StrictModel):
    reason: Text


class CancelIn(StrictModel):
    reason: Text


class ScheduleIn(StrictModel):
    appointment_at: datetime

    @field_validator("appointment_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # RFC 3339 carries an offset; a time without one is read as UTC, as everywhere
        # else in this API.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class VisitKind(StrEnum):
    initial = "initial"
    follow_up = "follow_up"


class VisitIn(StrictModel):
    date: date
    kind: VisitKind
    attended: StrictBool


class ReportKind(StrEnum):
    interim = "interim"
    outcome = "outcome"


class Goals(StrEnum):
    met = "met"
    partially_met = "partially_met"
    not_met = "not_met"


Pain = Annotated[StrictInt, Field(ge=0, le=10)]


class ReportIn(StrictModel):
    kind: ReportKind
    summary: Text
    goals: Goals | None = None
    pain_initial: Pain | None = None
    pain_discharge: Pain | None = None

    @model_validator(mode="after")
    def _goals_on_outcome(self) -> ReportIn:
        if self.kind is ReportKind.outcome and self.goals is None:
            raise ValueError("an outcome report states goals: met, partially_met or not_met")
        if self.kind is ReportKind.interim and self.goals is not None:
            raise ValueError("goals belong to the outcome report")
        return self


# -- responses ---------------------------------------------------------------------------


class PatientRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    phone: str | None
    email: str | None
    external_id: str | None


class Completeness(BaseModel):
    score: int = Field(ge=0, le=100)
    missing: list[str]


class VisitRead(BaseModel):
    id: uuid.UUID
    date: date
    kind: VisitKind
    attended: bool
    created_at: datetime


class ReportRead(BaseModel):
    id: uuid.UUID
    kind: ReportKind
    summary: str
    goals: Goals | None
    pain_initial: int | None
    pain_discharge: int | None
    created_at: datetime


class CommunicationRead(BaseModel):
    method: CommunicationMethod
    report_expected: bool
    reply_by: date | None


class NoteRead(BaseModel):
    chief_complaint: str
    mechanism_of_injury: str | None
    onset_date: date | None
    diagnosis_codes: list[str] = Field(description="Billable ICD-10-CM codes, dotted")
    clinical_impression: str | None
    care_to_date: str | None
    response_to_care: str | None
    clinical_question: str
    precautions: str | None
    communication: CommunicationRead | None


class AttestationRead(BaseModel):
    no_remuneration: bool
    attested_at: datetime
    attested_by: str = Field(description="The principal that attested (api_key:<id> or user:<id>)")


class ReferralRead(BaseModel):
    id: uuid.UUID
    status: ReferralStatus
    sender_organization_id: uuid.UUID
    receiver_organization_id: uuid.UUID
    from_provider_id: uuid.UUID | None
    from_attorney_id: uuid.UUID | None
    to_provider_id: uuid.UUID
    external_id: str | None
    urgency: Urgency
    case_type: CaseType
    attorney_id: uuid.UUID | None
    letter_of_protection_id: uuid.UUID | None
    patient: PatientRead
    note: NoteRead
    attestation: AttestationRead
    completeness: Completeness
    overdue: bool
    reply_by: date | None
    appointment_at: datetime | None
    decline_reason: str | None
    cancel_reason: str | None
    visits: list[VisitRead]
    reports: list[ReportRead]
    allowed_actions: list[str] = Field(
        description="Actions the caller may take now, from the current status and its side"
    )
    sent_at: datetime
    version: int
    created_at: datetime
    updated_at: datetime


class ReferralEventRead(BaseModel):
    id: int
    at: datetime
    action: str
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    actor: str
    actor_organization_id: uuid.UUID
    data: dict[str, Any]


Direction = Literal["sent", "received"]
