"""Sample raw records for the demo baseline (``baseline.yaml``): one small day of a payments platform.

Written for the project (not copied from any public log): realistic shapes of all three sources,
dated 2026-03-02 so that the db-breakglass just-in-time window (09:00-17:00 UTC) is open for some
calls and closed for others. Together they produce every verdict and reason of SPEC §6 except the
periodic ``unused_entitlement``, plus out-of-scope lines, a dropped audit stage and dead letters.

``EXPECTED_OUTCOMES`` is the table of what each record must give, one entry per event it holds, in order.
``sample_records()`` is one pass of the scenario with fixed ids; ``sample_stream(count, seed)``
repeats it with fresh event ids, access keys and times for a larger demo.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Final

from enricher.core.verdict import (
    ACCESS_MODEL_CHANGE,
    ALLOWED_BEYOND_BASELINE,
    APPROVED_BUT_DENIED,
    DECOMMISSIONED_IDENTITY,
    DENIED_OUTSIDE_BASELINE,
    DRIFT,
    EXPECTED,
    EXPIRED_ENTITLEMENT,
    IDENTITY_LINK,
    MATCHED_ENTITLEMENT,
    OVERPRIVILEGED,
    UNAPPROVED_SYSTEM,
    UNAUTHORIZED_PATH,
    UNEXPECTED_SOURCE,
    UNKNOWN_IDENTITY,
)

# the per-source modules register their builders on import
from enricher.samples import _cloudtrail, _kubernetes, _mesh  # noqa: F401
from enricher.samples._scenario import REGISTRY, Round, Sample, sample

# What one event of a record must give: (verdict, reason) for a verdict, else
# ("dead_letter", error), ("out_of_scope", "<source>:<why>") or ("skipped", reason).
Expect = tuple[str, str]
DEAD_LETTER: Final = "dead_letter"
OUT_OF_SCOPE: Final = "out_of_scope"
SKIPPED: Final = "skipped"

_OK: Final = (EXPECTED, MATCHED_ENTITLEMENT)
_LINK: Final = (EXPECTED, IDENTITY_LINK)
_BEYOND: Final = (OVERPRIVILEGED, ALLOWED_BEYOND_BASELINE)
_UNKNOWN: Final = (UNAUTHORIZED_PATH, UNKNOWN_IDENTITY)
_DECOMMISSIONED: Final = (UNAUTHORIZED_PATH, DECOMMISSIONED_IDENTITY)
_DENIED: Final = (UNAUTHORIZED_PATH, DENIED_OUTSIDE_BASELINE)
_BOUNDARY: Final = (UNAUTHORIZED_PATH, UNAPPROVED_SYSTEM)
_EXPIRED: Final = (UNAUTHORIZED_PATH, EXPIRED_ENTITLEMENT)
_SOURCE: Final = (UNAUTHORIZED_PATH, UNEXPECTED_SOURCE)
_CHANGE: Final = (DRIFT, ACCESS_MODEL_CHANGE)
_DISAGREE: Final = (DRIFT, APPROVED_BUT_DENIED)

# record name -> what each of its events gives (the story of each line is in its builder below)
EXPECTED_OUTCOMES: Final[dict[str, tuple[Expect, ...]]] = {
    # CloudTrail
    "ct-payments-s3-log-file": (_OK, _OK, _BEYOND),  # {"Records"}: GetObject, ListObjects, DeleteObject
    "ct-payments-query-orders": (_OK,),
    "ct-payments-kms-denied": (_DISAGREE,),
    "ct-payments-cross-account-read": (_BOUNDARY,),
    "ct-fluent-bit-irsa": (_LINK,),
    "ct-external-secrets-irsa": (_LINK,),
    "ct-external-secrets-get-secret": (_OK,),  # via the service account (IRSA session)
    "ct-breakglass-in-window": (_OK,),
    "ct-breakglass-after-window": (_EXPIRED,),
    "ct-legacy-reporting-export": (_DECOMMISSIONED,),
    "ct-shadow-role-read": (_UNKNOWN,),
    "ct-agent-invoke-model": (_OK,),
    "ct-agent-unapproved-model": (_BEYOND,),
    "ct-agent-secret-denied": (_DENIED,),
    "ct-deployer-ecr-login": (_OK,),
    "ct-deployer-push-foreign-ip": (_SOURCE,),
    "ct-deployer-assume-prod": (_OK,),
    "ct-deployer-attach-admin": (_CHANGE,),  # EventBridge envelope
    "ct-sso-admin": ((OUT_OF_SCOPE, "cloudtrail:aws_sso"),),
    # Kubernetes audit
    "k8s-orders-config-received": ((SKIPPED, "k8s_stage_requestreceived"),),
    "k8s-orders-config": (_OK,),
    "k8s-webhook-batch": (_OK, _OK, _OK),  # EventList
    "k8s-impersonated-secret-list": (_BEYOND,),
    "k8s-rolebinding-create": (_CHANGE,),  # the actor is not entitled
    "k8s-token-secret-create": (_CHANGE,),  # the actor is entitled
    "k8s-forbidden-secret-read": (_DENIED,),
    "k8s-external-secrets-update-denied": (_DISAGREE,),
    "k8s-orders-reads-payments-secret": (_BOUNDARY,),
    "k8s-shadow-service-account": (_UNKNOWN,),
    # mesh
    "mesh-orders-charge": (_OK,),
    "mesh-orders-status-denied": (_DISAGREE,),
    "mesh-orders-refund-denied": (_DENIED,),
    "mesh-payments-get-order": (_OK,),
    "mesh-agent-ticket": (_OK,),
    "mesh-agent-admin-export": (_BEYOND,),
    "mesh-agent-charge-cri": (_BOUNDARY,),  # CRI-wrapped JSON line
    "mesh-shadow-caller": (_UNKNOWN,),
    "mesh-ztunnel-orders-db": (_OK,),
    "mesh-text-no-identity": ((OUT_OF_SCOPE, "mesh:unattributed"),),
    # broken input
    "broken-truncated-json": ((DEAD_LETTER, "invalid_json"),),
    "broken-binary": ((DEAD_LETTER, "not_utf8"),),
    "broken-kind-zero": ((DEAD_LETTER, "k8s_not_an_event"),),
}


# ------------------------------------------------------------------------------------ broken input


@sample("broken-truncated-json", "cloudtrail")
def _truncated(r: Round) -> bytes:
    # A record cut off mid-way (a producer that lost its connection after a partial write).
    whole = REGISTRY["ct-agent-invoke-model"].build(r)
    return whole[: len(whole) // 2]


@sample("broken-binary", "mesh")
def _binary(r: Round) -> bytes:
    # A shipper pointed at a compressed rotated log: gzip bytes where text lines belong.
    return bytes.fromhex("1f8b0800000000000003ed9dcb92e3c8b1e7f7a0f4ffeb9e5e7e99ab5d0f")


@sample("broken-kind-zero", "k8s_audit")
def _kind_zero(r: Round) -> bytes:
    # Valid JSON that is no audit event at all.
    return b'{"kind": 0}'


def _ordered() -> tuple[Sample, ...]:
    missing = set(EXPECTED_OUTCOMES) ^ set(REGISTRY)
    if missing:
        raise RuntimeError(f"samples and EXPECTED_OUTCOMES disagree on {sorted(missing)}")
    return tuple(REGISTRY[name] for name in EXPECTED_OUTCOMES)


# In the order of the table: an IRSA exchange comes before the calls made with its credentials.
SAMPLES: Final = _ordered()


def build_round(rnd: random.Random | None = None) -> list[tuple[str, str, bytes]]:
    """One pass over the scenario as (name, source, raw bytes); fixed ids when ``rnd`` is None."""
    r = Round(rnd)
    return [(s.name, s.source, s.build(r)) for s in SAMPLES]


def sample_records() -> list[tuple[str, bytes]]:
    """The scenario once, as (source, raw bytes): the same bytes on every call."""
    return [(source, data) for _name, source, data in build_round()]


def sample_stream(count: int, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """``count`` records: the scenario repeated, each pass with fresh event ids, keys and times."""
    rnd = random.Random(seed)
    produced = 0
    while produced < count:
        for _name, source, data in build_round(rnd):
            if produced >= count:
                return
            yield source, data
            produced += 1
