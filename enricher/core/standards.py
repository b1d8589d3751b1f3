"""Severity and standards tags for a decision (SPEC §6).

Tags name the framework and its version: ``OWASP-NHI5:2025`` (OWASP Non-Human Identities Top 10,
2025), ``NIST-CSF-2.0:PR.AA-05`` (NIST Cybersecurity Framework 2.0), ``MAESTRO:L4`` (CSA MAESTRO
layer, only when the identity is an AI agent). Results are cached per key: the hot path only does
a dict lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from enricher.core import verdict as v

NIST_LEAST_PRIVILEGE: Final = "NIST-CSF-2.0:PR.AA-05"
NIST_MONITORING: Final = "NIST-CSF-2.0:DE.CM-03"
NIST_CONTEXT: Final = "NIST-CSF-2.0:DE.AE-07"
NIST_RUNTIME: Final = "NIST-CSF-2.0:DE.CM-09"

# MAESTRO layer an agent's finding belongs to: privilege on its deployment (L4), movement in its
# ecosystem (L7), governance of its access model (L6), plain observability (L5).
MAESTRO_LAYER: Final = {
    v.EXPECTED: "MAESTRO:L5",
    v.OVERPRIVILEGED: "MAESTRO:L4",
    v.UNAUTHORIZED_PATH: "MAESTRO:L7",
    v.DRIFT: "MAESTRO:L6",
}


def severity_of(verdict: str, reason: str, outcome: str, actor_entitled: bool | None) -> str:
    """expected info; drift medium (high when the actor was not entitled); overprivileged medium;
    unauthorized_path high, critical for an unknown or decommissioned identity that succeeded."""
    if verdict == v.EXPECTED:
        return "info"
    if verdict == v.DRIFT:
        return "high" if actor_entitled is False else "medium"
    if verdict == v.OVERPRIVILEGED:
        return "medium"
    if reason in (v.UNKNOWN_IDENTITY, v.DECOMMISSIONED_IDENTITY) and outcome == "success":
        return "critical"
    return "high"


@lru_cache(maxsize=1024)
def standards_for(
    verdict: str, reason: str, identity_kind: str | None, change_category: str | None
) -> tuple[str, ...]:
    """The standards tags of one verdict; cached because the key space is tiny."""
    tags: list[str] = []
    if reason == v.DECOMMISSIONED_IDENTITY:
        tags.append("OWASP-NHI1:2025")
    if verdict == v.OVERPRIVILEGED:
        tags.append("OWASP-NHI5:2025")
    if change_category == "access_key":
        tags.append("OWASP-NHI7:2025")
    if reason == v.UNAPPROVED_SYSTEM:
        tags.append("OWASP-NHI8:2025")
    if verdict != v.EXPECTED:
        tags.append(NIST_LEAST_PRIVILEGE)
    if verdict in (v.UNAUTHORIZED_PATH, v.DRIFT):
        tags.append(NIST_RUNTIME)
    tags.append(NIST_MONITORING)
    tags.append(NIST_CONTEXT)
    if identity_kind == "agent":
        tags.append(MAESTRO_LAYER[verdict])
    return tuple(tags)
