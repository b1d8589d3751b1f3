"""The responder HTTP API (FastAPI): routers, bearer-token auth, schemas."""

from enricher.adapters.api.app import create_app

__all__ = ["create_app"]
