"""Path and query parameter types shared by the routes: each invalid value is a 422, never a 500.

Text parameters refuse NUL characters and unpaired surrogates (PostgreSQL and SQLite cannot store
them, so they would otherwise fail deep in the driver); timestamps must carry a timezone, like the
baseline file's, and are normalised to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from fastapi import Path, Query, Request
from pydantic import AfterValidator

from enricher.adapters.api.errors import invalid, route_label

MAX_TEXT: Final = 2048
MAX_PAGE: Final = 500
DEFAULT_PAGE: Final = 100

VerdictKind = Literal["expected", "overprivileged", "unauthorized_path", "drift"]
Reason = Literal[
    "matched_entitlement",
    "identity_link",
    "allowed_beyond_baseline",
    "unused_entitlement",
    "unknown_identity",
    "decommissioned_identity",
    "denied_outside_baseline",
    "unapproved_system",
    "expired_entitlement",
    "unexpected_source",
    "access_model_change",
    "approved_but_denied",
]
Source = Literal["cloudtrail", "k8s_audit", "mesh"]
# (the Literal types restate the core's constants for OpenAPI; a test keeps them in step)


def storable_text(value: str) -> str:
    """``value`` unchanged, or ``ValueError`` when a database could not store or compare it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid UTF-8 text") from exc
    return value


def aware_utc(value: datetime) -> datetime:
    """``value`` in UTC, or ``ValueError`` for a time without a timezone (or out of range)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a timezone, e.g. 2026-03-14T09:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00
        raise ValueError("is out of the supported range") from exc


StoredText = Annotated[str, AfterValidator(storable_text)]
AwareTime = Annotated[datetime, AfterValidator(aware_utc)]

EventId = Annotated[
    StoredText, Path(min_length=1, max_length=MAX_TEXT, description="CloudTrail eventID, k8s auditID, ...")
]
IdentityId = Annotated[StoredText, Path(min_length=1, max_length=MAX_TEXT, description="Identity id")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, 1..{MAX_PAGE}")]
Cursor = Annotated[
    StoredText | None,
    Query(max_length=MAX_TEXT, description="The next_cursor of the previous page"),
]
Since = Annotated[
    AwareTime | None, Query(description="Only verdicts at or after this RFC 3339 time (with timezone)")
]
Until = Annotated[
    AwareTime | None, Query(description="Only verdicts before this RFC 3339 time (with timezone)")
]


def check_window(since: datetime | None, until: datetime | None) -> str | None:
    """Say why ``since``/``until`` cannot both hold (``None`` when they can)."""
    if since is not None and until is not None and until <= since:
        return "query.until: must be after since"
    return None


def _declared_query(request: Request) -> frozenset[str]:
    """The query parameters the matched route declares, read once per route from the OpenAPI document."""
    app = request.app
    table: dict[tuple[str, str], frozenset[str]] | None = getattr(app.state, "query_params", None)
    if table is None:
        table = {}
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                names = {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"}
                table[(method.upper(), path)] = frozenset(names)
        app.state.query_params = table
    return table.get((request.method, route_label(request.scope)), frozenset())


async def reject_unknown_query(request: Request) -> None:
    """A 422 for a query parameter the route does not take: a typo such as ``?verdcit=drift``
    would otherwise silently widen a search."""
    if not request.query_params:
        return
    allowed = _declared_query(request)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        raise invalid(
            [f"query.{name[:64]}: unknown parameter (this route takes: {expected})" for name in unknown]
        )
