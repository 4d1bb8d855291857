"""Unknown query parameters are a 422, so a typo ('radious=5') never silently widens a search."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from referral_api.errors import ValidationFailed


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query_params(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = getattr(route, "_allowed_query", None)
    if allowed is None:
        allowed = _query_names(route.dependant)
        route._allowed_query = allowed  # type: ignore[attr-defined]
    params = request.query_params
    unknown = sorted(k for k in params if k not in allowed)
    repeated = sorted({k for k in params if k in allowed and len(params.getlist(k)) > 1})
    errors = [(f"/query/{k}", "unknown query parameter") for k in unknown]
    errors += [(f"/query/{k}", "given more than once") for k in repeated]
    if errors:
        raise ValidationFailed(
            "; ".join(f"{p.removeprefix('/query/')}: {d}" for p, d in errors), errors=errors
        )
