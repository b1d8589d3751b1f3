"""``/healthz`` (the process answers), ``/readyz`` (the store is usable), ``/metrics`` (Prometheus).

``/healthz`` and ``/readyz`` are the only anonymous routes (probes carry no token); ``/metrics``
needs ``read`` like every other GET (Prometheus sends it with ``authorization.credentials_file``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from enricher.adapters.api.auth import ReadToken, route_docs
from enricher.adapters.api.context import ApiContext, get_context
from enricher.adapters.api.params import reject_unknown_query
from enricher.adapters.api.schemas import ErrorBody, Health
from enricher.adapters.store.migrate import current_revision
from enricher.adapters.store.token_repo import READ

READY_TIMEOUT_S: Final = 3.0

log = logging.getLogger("enricher.api")
router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    response_model_exclude_none=True,
    dependencies=[Depends(reject_unknown_query)],
    responses={422: {"model": ErrorBody, "description": "Unknown query parameter"}},
)
async def healthz() -> dict[str, Any]:
    """Liveness: 200 whenever the process can answer. No token needed."""
    return {"status": "ok"}


async def readiness(context: ApiContext) -> tuple[bool, str | None, str | None]:
    """(ready, reason when not, database revision): the store answers and is migrated to head."""
    try:
        revision = await asyncio.wait_for(current_revision(context.engine), READY_TIMEOUT_S)
    except TimeoutError:
        return False, f"database did not answer within {READY_TIMEOUT_S:g} s", None
    except Exception as exc:  # any failure to reach the store means "not ready", never a 500
        log.warning("readiness: database unreachable: %s", exc)
        return False, f"database unreachable ({type(exc).__name__})", None
    if revision is None:
        return False, "database is not migrated (run any enricher command, or enricher api, to migrate)", None
    if revision != context.head_revision:
        return (
            False,
            f"database is at migration {revision}, this release needs {context.head_revision}",
            revision,
        )
    return True, None, revision


@router.get(
    "/readyz",
    response_model=Health,
    response_model_exclude_none=True,
    dependencies=[Depends(reject_unknown_query)],
    responses={
        422: {"model": ErrorBody, "description": "Unknown query parameter"},
        503: {"model": Health, "description": "Not ready; reason says why"},
    },
)
async def readyz(context: Annotated[ApiContext, Depends(get_context)]) -> Any:
    """Readiness: 200 when the database answers and its schema is at this release's migration
    head, else 503 with the reason. No token needed."""
    ready, reason, revision = await readiness(context)
    if ready:
        return {"status": "ready", "revision": revision}
    return JSONResponse({"status": "not_ready", "reason": reason, "revision": revision}, status_code=503)


_METRICS_DOCS: Final = route_docs(READ)
_METRICS_DOCS["responses"][200] = {
    "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
    "description": "Prometheus text exposition format",
}
_METRICS_DOCS["responses"][503] = {"model": ErrorBody, "description": "The store cannot be reached"}


@router.get("/metrics", response_class=Response, **_METRICS_DOCS)
async def metrics(_token: ReadToken, context: Annotated[ApiContext, Depends(get_context)]) -> Response:
    """This process's Prometheus metrics (text format). Scope: ``read``."""
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
