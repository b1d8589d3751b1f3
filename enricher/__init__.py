"""Entitlement-aware runtime event enrichment."""

__version__ = "0.1.0"
