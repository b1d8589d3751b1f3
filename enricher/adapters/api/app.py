"""The responder HTTP API (SPEC §9): ``create_app(settings)`` builds the FastAPI application.

Building the app does no I/O: the engine connects on first use. The lifespan only disposes of
the engine at shutdown, so an app driven without lifespan events (tests through
``httpx.ASGITransport``) works too; such callers dispose of ``app.state.context.engine`` themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.api import baseline, events, health, identities, verdicts
from enricher.adapters.api.context import ApiContext, SnapshotCache
from enricher.adapters.api.errors import RequestObserver, install_error_handlers
from enricher.adapters.metrics import Metrics
from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.migrate import head_revision
from enricher.adapters.store.token_repo import TokenRepository
from enricher.adapters.store.verdict_repo import VerdictRepository
from enricher.config import Settings

DESCRIPTION = """\
Event context for incident responders and management of the entitlement baseline.

Every route except `/healthz` and `/readyz` needs `Authorization: Bearer <token>`; tokens come
from `enricher api token create NAME --scopes read[,baseline:write]`. `read` allows every GET,
`baseline:write` allows baseline edits and implies `read`. Errors are JSON objects with `error`
(a stable code), `detail` and, for invalid input (422), `problems`.
"""


def create_app(
    settings: Settings, *, metrics: Metrics | None = None, engine: AsyncEngine | None = None
) -> FastAPI:
    """The API over the store at ``settings.database_url`` (or over ``engine`` when given)."""
    engine = engine if engine is not None else create_engine_for(settings.database_url)
    baselines = BaselineRepository(engine)
    context = ApiContext(
        settings=settings,
        engine=engine,
        baselines=baselines,
        verdicts=VerdictRepository(engine),
        tokens=TokenRepository(engine),
        metrics=metrics if metrics is not None else Metrics(),
        snapshots=SnapshotCache(baselines),
        head_revision=head_revision(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="enricher responder API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "events", "description": "One event in context"},
            {"name": "verdicts", "description": "Search stored verdicts"},
            {"name": "identities", "description": "An identity's record and history"},
            {"name": "baseline", "description": "Read and edit the entitlement baseline"},
            {"name": "health", "description": "Probes and metrics"},
        ],
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (events, verdicts, identities, baseline, health):
        app.include_router(module.router)
    app.add_middleware(RequestObserver, metrics=context.metrics)
    return app
