"""Alembic migrations of the store (run them with :mod:`enricher.adapters.store.migrate`)."""
