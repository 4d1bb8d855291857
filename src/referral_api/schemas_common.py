"""Field types shared by every domain's schemas."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Input models reject unknown fields, so a misspelt field is a 422, not silently lost."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]

_PHONE = re.compile(r"^\+?[0-9 ().\-]{7,25}$")


def _check_phone(value: str) -> str:
    if not _PHONE.match(value) or sum(c.isdigit() for c in value) < 7:
        raise ValueError("not a phone number")
    return value


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32,
                                         pattern=r"^\+?[0-9 ().\-]{7,25}$"),
                  AfterValidator(_check_phone)]


def npi_check_digit_ok(npi: str) -> bool:
    """Luhn check over the prefix 80840 + the NPI (CMS NPI standard)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _check_npi(value: str) -> str:
    if len(value) != 10 or not value.isdigit():
        raise ValueError("an NPI is 10 digits")
    if value[0] not in "12":
        raise ValueError("an NPI starts with 1 or 2")
    if not npi_check_digit_ok(value):
        raise ValueError("NPI check digit is wrong (Luhn over 80840 + NPI)")
    return value


NPI = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[12][0-9]{9}$"),
                AfterValidator(_check_npi),
                Field(examples=["1234567893"], description="10-digit NPI with a valid check digit")]
