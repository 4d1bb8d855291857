from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints, model_validator

from referral_api.schemas_common import NPI, Label, Phone, StrictModel


class OrganizationKind(StrEnum):
    practice = "practice"
    law_firm = "law_firm"
    partner = "partner"


class Scope(StrEnum):
    directory_read = "directory:read"
    directory_write = "directory:write"
    referrals_read = "referrals:read"
    referrals_write = "referrals:write"
    lop_read = "lop:read"
    lop_write = "lop:write"
    metrics_read = "metrics:read"
    org_admin = "org:admin"
    webhooks_manage = "webhooks:manage"


class GeocodePrecision(StrEnum):
    exact = "exact"
    postal_code = "postal_code"
State = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                         pattern=r"^[A-Za-z]{2}$")]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True,
                                              pattern=r"^[0-9]{5}(-[0-9]{4})?$")]


class LopPolicy(StrictModel):
    accepts_lop: StrictBool = False
    max_outstanding_cents: Annotated[StrictInt, Field(ge=0)] | None = None
    policy_text: Annotated[str, StringConstraints(max_length=5000)] | None = None


class OrganizationCreate(StrictModel):
    name: Label
    kind: OrganizationKind
    npi: NPI | None = None
    phone: Phone | None = None
    website: Annotated[str, StringConstraints(max_length=500,
                                              pattern=r"^https?://\S+$")] | None = None
    lop_policy: LopPolicy | None = None


class OrganizationUpdate(StrictModel):
    name: Label | None = None
    npi: NPI | None = None
    phone: Phone | None = None
    website: Annotated[str, StringConstraints(max_length=500,
                                              pattern=r"^https?://\S+$")] | None = None
    lop_policy: LopPolicy | None = None


class OrganizationRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: OrganizationKind
    npi: str | None
    phone: str | None
    website: str | None
    lop_policy: LopPolicy
    version: int
    created_at: datetime
    updated_at: datetime


class Address(StrictModel):
    line1: Label
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    state: State
    postal_code: PostalCode


class LocationCreate(StrictModel):
    name: Label
    address: Address
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _lat_lon_together(self) -> LocationCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither (the ZIP centroid is used)")
        return self


class LocationUpdate(StrictModel):
    name: Label | None = None
    address: Address | None = None
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _lat_lon_together(self) -> LocationUpdate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class AddressRead(BaseModel):
    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str


class LocationRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    address: AddressRead
    lat: float
    lon: float
    phone: str | None
    geocode_precision: GeocodePrecision
    version: int
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(StrictModel):
    name: Label
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=20)]


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID | None
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    api_key: str = Field(description="The secret key. Shown only in this response.")
