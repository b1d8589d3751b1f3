"""The entitlement baseline as data: identities, their aliases and approved entitlements.

These are the plain records a baseline file, the store and the API exchange. The compiled,
lookup-ready form lives in ``baseline.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

IDENTITY_KINDS: Final = ("aws_role", "aws_user", "k8s_service_account", "workload", "ci_pipeline", "agent")
IDENTITY_STATUSES: Final = ("active", "decommissioned")
SYSTEMS: Final = ("aws", "k8s", "mesh")


@dataclass(frozen=True, slots=True)
class Conditions:
    """Extra constraints on an entitlement; an empty tuple means "no constraint"."""

    source_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One approved grant: ``actions`` on ``resources`` in ``system`` (patterns with ``*``/``?``)."""

    id: str
    system: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Conditions = field(default_factory=Conditions)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    approved_by: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """A non-human identity: who owns it, why it exists, what it may do."""

    id: str
    kind: str
    owner: str
    purpose: str
    status: str = "active"
    aliases: tuple[str, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()


@dataclass(frozen=True, slots=True)
class BaselineSettings:
    """The ``settings`` block of a baseline document."""

    out_of_scope: tuple[str, ...] = ()
    mesh_require_identity: bool = False
    unused_after_days: int = 30


@dataclass(frozen=True, slots=True)
class BaselineDocument:
    """A whole baseline: what ``baseline validate|import|export`` read and write."""

    identities: tuple[Identity, ...]
    settings: BaselineSettings = field(default_factory=BaselineSettings)
    version: int = 1  # the file format version, not ``baseline_version``
