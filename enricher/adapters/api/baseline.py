"""``/baseline/...``: read the baseline, edit one identity at a time (each edit versioned), history.

A ``PUT`` body is one identity in the baseline file's shape and goes through the file's own
validator (``load_baseline_text``), so the API accepts exactly what a file would; JSON ``null``
means "not given". The store then refuses aliases another identity already lists. Every write
is one ``baseline_version`` bump whose author is the token's name.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from datetime import datetime
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from enricher.adapters.api.auth import ReadToken, WriteToken, route_docs
from enricher.adapters.api.context import ApiContext, Snapshot, get_context
from enricher.adapters.api.errors import ApiError, invalid, not_found
from enricher.adapters.api.params import DEFAULT_PAGE, MAX_TEXT, Cursor, IdentityId, Limit, StoredText
from enricher.adapters.api.schemas import (
    BaselineSummary,
    ChangeOut,
    History,
    IdentityPage,
    IdentityRecord,
    identity_dict,
)
from enricher.adapters.store.token_repo import BASELINE_WRITE, READ
from enricher.core.baseline_file import format_timestamp, load_baseline_text
from enricher.core.model import Identity
from enricher.errors import BaselineError

MAX_BODY: Final = 1 << 20
# Characters YAML reads differently from JSON when raw (non-printables; NEL, LS and PS are line
# breaks YAML folds to spaces; a BOM): escaped on the way in, so they reach the validator as sent.
_NON_PRINTABLE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
# "(first defined on line 12)", "on line 12": lines of the wrapped body mean nothing to the caller
_LINE_REFERENCE: Final = re.compile(r" \(first defined on line \d+\)| on line \d+")

router = APIRouter(prefix="/baseline", tags=["baseline"])


# ------------------------------------------------------------------------------------------ reads


@router.get("", response_model=BaselineSummary, **route_docs(READ))
async def get_baseline(
    _token: ReadToken, context: Annotated[ApiContext, Depends(get_context)]
) -> dict[str, Any]:
    """The version in force, when it was made, and what the baseline holds. Scope: ``read``."""
    snapshot = await context.snapshots.get()
    version, changed_at = await context.baselines.version_info()
    settings = snapshot.document.settings
    return {
        "baseline_version": snapshot.version,
        "changed_at": _time(changed_at) if version == snapshot.version else None,
        "identities": len(snapshot.ordered),
        "entitlements": snapshot.entitlements,
        "aliases": snapshot.aliases,
        "identities_by_kind": snapshot.kinds,
        "identities_by_status": snapshot.statuses,
        "entitlements_by_system": snapshot.systems,
        "settings": {
            "out_of_scope": list(settings.out_of_scope),
            "mesh_require_identity": settings.mesh_require_identity,
            "unused_after_days": settings.unused_after_days,
        },
    }


def _encode_cursor(identity_id: str) -> str:
    return base64.urlsafe_b64encode(identity_id.encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError) as exc:
        raise invalid(["query.cursor: bad cursor"]) from exc


def _page(
    snapshot: Snapshot, after: str | None, limit: int, kind: str | None, status: str | None
) -> tuple[list[Identity], str | None]:
    ordered = snapshot.ordered
    start = 0 if after is None else bisect_right(snapshot.ids, after)
    out: list[Identity] = []
    for index in range(start, len(ordered)):
        identity = ordered[index]
        if (kind is None or identity.kind == kind) and (status is None or identity.status == status):
            if len(out) == limit:
                return out, _encode_cursor(out[-1].id)
            out.append(identity)
    return out, None


@router.get("/identities", response_model=IdentityPage, **route_docs(READ))
async def list_identities(
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
    kind: Annotated[StoredText | None, Query(max_length=64, description="Only this kind")] = None,
    status: Annotated[StoredText | None, Query(max_length=64, description="active | decommissioned")] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Identities by id, as one-line summaries, paged. Scope: ``read``."""
    snapshot = await context.snapshots.get()
    after = None if cursor is None else _decode_cursor(cursor)
    page, next_cursor = _page(snapshot, after, limit, kind, status)
    items = [
        {
            "id": i.id,
            "kind": i.kind,
            "owner": i.owner,
            "purpose": i.purpose,
            "status": i.status,
            "aliases": len(i.aliases),
            "entitlements": len(i.entitlements),
        }
        for i in page
    ]
    return {"baseline_version": snapshot.version, "items": items, "next_cursor": next_cursor}


@router.get("/identities/{identity_id:path}", response_model=IdentityRecord, **route_docs(READ, 404))
async def get_baseline_identity(
    identity_id: IdentityId, _token: ReadToken, context: Annotated[ApiContext, Depends(get_context)]
) -> dict[str, Any]:
    """One identity exactly as the baseline holds it (the shape ``PUT`` takes). Scope: ``read``."""
    identity = await context.baselines.get_identity(identity_id)
    if identity is None:
        raise not_found(f"no identity {identity_id!r} in the baseline")
    return identity_dict(identity)


@router.get("/history", response_model=History, **route_docs(READ))
async def get_history(
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
    identity: Annotated[
        StoredText | None, Query(min_length=1, max_length=MAX_TEXT, description="Only changes to it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Baseline changes, newest first: version, author (token name or CLI user), time, what.
    Scope: ``read``."""
    rows = await context.baselines.history(limit=limit, identity_id=identity)
    return {"items": [_history_entry(row) for row in rows]}


def _time(when: datetime | None) -> str | None:
    return None if when is None else format_timestamp(when)


def _history_entry(row: dict[str, object]) -> dict[str, object]:
    changed_at = row.get("changed_at")
    return {**row, "changed_at": _time(changed_at) if isinstance(changed_at, datetime) else changed_at}


# ----------------------------------------------------------------------------------------- writes

_IDENTITY_BODY: Final = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/IdentityRecord"},
            "example": {
                "kind": "workload",
                "owner": "team-payments",
                "purpose": "Serves the payments API; reads orders, writes receipts",
                "aliases": ["system:serviceaccount:payments:api"],
                "entitlements": [
                    {
                        "id": "payments-config-read",
                        "system": "k8s",
                        "actions": ["get", "list", "watch"],
                        "resources": ["payments/core/configmaps/*"],
                        "approved_by": "alice",
                        "ticket": "SEC-123",
                    }
                ],
            },
        }
    },
}


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body must not exceed {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "too_large", f"the body must not exceed {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _without_nulls(value: Any) -> Any:
    """JSON ``null`` means "not given": drop such keys from every mapping."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _as_yaml(identity: dict[str, Any]) -> str:
    """A baseline document holding ``identity``: JSON is YAML flow syntax, one node per line (the
    file validator tells duplicates apart by line), strings double-quoted so none is retyped."""
    flow = orjson.dumps(identity, option=orjson.OPT_INDENT_2).decode().replace("\n", "\n  ")
    flow = _NON_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", flow)
    return f"version: 1\nidentities:\n- {flow}\n"


def parse_identity(body: bytes, identity_id: str) -> Identity:
    """The identity a ``PUT`` body describes, validated by the baseline file's rules.

    Raises ``ApiError(422)`` listing every problem. The path names the identity: the body may omit
    ``id``, and must not name another one.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid([f"body: not valid JSON ({exc})"]) from exc
    if not isinstance(data, dict):
        raise invalid(["body: must be a JSON object describing one identity"])
    data = _without_nulls(data)
    if data.setdefault("id", identity_id) != identity_id:
        raise invalid([f"body.id: {data['id']!r} does not match the identity in the path, {identity_id!r}"])
    try:
        document = load_baseline_text(_as_yaml({"id": identity_id, **data}), source="request body")
    except BaselineError as exc:
        raise invalid([_LINE_REFERENCE.sub("", problem.message) for problem in exc.problems]) from exc
    return document.identities[0]


@router.put(
    "/identities/{identity_id:path}",
    response_model=ChangeOut,
    status_code=200,
    openapi_extra={"requestBody": _IDENTITY_BODY, "x-required-scope": BASELINE_WRITE},
    responses={
        **route_docs(BASELINE_WRITE, 413)["responses"],
        201: {"model": ChangeOut, "description": "Created"},
    },
)
async def put_identity(
    identity_id: IdentityId,
    request: Request,
    response: Response,
    token: WriteToken,
    context: Annotated[ApiContext, Depends(get_context)],
) -> dict[str, Any]:
    """Create or replace one identity (aliases, entitlements and all); 201 when it is new. The
    body is validated like a baseline file's identity; aliases must not belong to another identity.
    An identical body changes nothing and keeps the version. Scope: ``baseline:write``."""
    identity = parse_identity(await _read_body(request), identity_id)
    existed = await context.baselines.get_identity(identity_id) is not None
    try:
        change = await context.baselines.upsert_identity(identity, author=token.name)
    except BaselineError as exc:
        raise invalid([problem.message for problem in exc.problems]) from exc
    stored = await context.baselines.get_identity(identity_id)
    if not existed:
        response.status_code = 201
    return {
        "baseline_version": change.version,
        "author": token.name,
        "upserted": list(change.upserted),
        "deleted": list(change.deleted),
        "identity": None if stored is None else identity_dict(stored),
    }


@router.delete("/identities/{identity_id:path}", response_model=ChangeOut, **route_docs(BASELINE_WRITE, 404))
async def delete_identity(
    identity_id: IdentityId, token: WriteToken, context: Annotated[ApiContext, Depends(get_context)]
) -> dict[str, Any]:
    """Remove one identity with its aliases and entitlements (its verdicts stay in the store).
    Scope: ``baseline:write``."""
    try:
        change = await context.baselines.delete_identity(identity_id, author=token.name)
    except LookupError as exc:
        raise not_found(f"no identity {identity_id!r} in the baseline") from exc
    return {
        "baseline_version": change.version,
        "author": token.name,
        "upserted": list(change.upserted),
        "deleted": list(change.deleted),
        "identity": None,
    }
