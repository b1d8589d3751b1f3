"""A verdict as an OCSF 1.5.0 Detection Finding (class 2004), for the ``enricher.alerts.ocsf`` topic.

Layout decisions (checked against the OCSF 1.5.0 JSON schema in the tests):

- The offending call sits in ``evidences[0]`` (``actor``, ``api``, ``src_endpoint``,
  ``dst_endpoint``, ``http_request``): a top-level ``actor`` would need the ``host`` profile.
- AWS verdicts carry the ``cloud`` profile (``cloud`` becomes required: provider, region, account)
  and so also a top-level ``api``. Kubernetes and mesh verdicts do not: their cluster may run on
  any provider or none, and ``cloud.provider`` names a cloud provider. Profiles are per event in
  OCSF, so consumers read ``metadata.profiles``.
- OCSF 1.5 has no user type for a service (``4 Service`` came in 1.6), so non-human principals are
  ``type_id`` 99 (Other) with ``type`` naming them (``AWS IAM Role``, ``Kubernetes ServiceAccount``,
  ``SPIFFE ID``).
- Owner, purpose, entitlement and the standards tags go in ``enrichments[0].data``; fields with no
  OCSF home (source, outcome, cluster, via ...) in ``unmapped``.
- ``action_id``/``disposition_id`` need the ``security_control`` profile and are left out.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

import orjson

from enricher.core import verdict as vm
from enricher.core.verdict import Verdict

OCSF_VERSION: Final = "1.5.0"
CLASS_UID: Final = 2004
CATEGORY_UID: Final = 2
ACTIVITY_ID: Final = 1  # Create: every verdict is a new finding
TYPE_UID: Final = CLASS_UID * 100 + ACTIVITY_ID
STATUS_ID_NEW: Final = 1
CONFIDENCE_ID_HIGH: Final = 3  # rule-based: the baseline says so, no statistics involved
ANALYTIC_TYPE_RULE: Final = 1
PRODUCT_NAME: Final = "enricher"
VENDOR_NAME: Final = "enricher"
LOG_NAME: Final = "enricher.alerts"
ENRICHMENT_TYPE: Final = "nhi_entitlement"

SEVERITY_ID: Final[dict[str, int]] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_CAPTION: Final = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

_VERDICT_CAPTION: Final = {
    vm.EXPECTED: "Expected",
    vm.OVERPRIVILEGED: "Overprivileged",
    vm.UNAUTHORIZED_PATH: "Unauthorized path",
    vm.DRIFT: "Drift",
}
_REASON_DESC: Final = {
    vm.MATCHED_ENTITLEMENT: "An active, currently valid entitlement of the identity matches the call.",
    vm.IDENTITY_LINK: "The identity assumed a role or presented a credential that is its own alias.",
    vm.ALLOWED_BEYOND_BASELINE: "The call succeeded but no entitlement of the identity in this system "
    "matches it: the identity holds more privilege than approved.",
    vm.UNUSED_ENTITLEMENT: "An approved entitlement has not been exercised within the review period.",
    vm.UNKNOWN_IDENTITY: "The actor is in scope but is no identity's alias (shadow non-human identity).",
    vm.DECOMMISSIONED_IDENTITY: "The identity is decommissioned in the baseline but still acts.",
    vm.DENIED_OUTSIDE_BASELINE: "The platform denied a call that no entitlement covers (probing or "
    "credential misuse).",
    vm.UNAPPROVED_SYSTEM: "The identity acted in an account, namespace or destination where it holds "
    "no entitlement at all (cross-boundary movement).",
    vm.EXPIRED_ENTITLEMENT: "The only matching entitlement is outside its validity window.",
    vm.UNEXPECTED_SOURCE: "A matching entitlement's conditions (such as source networks) were not met.",
    vm.ACCESS_MODEL_CHANGE: "The call changed the access model (policies, bindings, keys, mesh policy).",
    vm.APPROVED_BUT_DENIED: "An entitlement allows the call but the platform denied it: baseline and "
    "reality disagree.",
}
# (title, desc) per reason, e.g. "Unauthorized path: unknown identity"
_FINDING_TEXT: Final = {
    reason: (f"{_VERDICT_CAPTION[verdict]}: {reason.replace('_', ' ')}", _REASON_DESC[reason])
    for verdict, reasons in vm.REASONS_BY_VERDICT.items()
    for reason in reasons
}

_SOURCE_CAPTION: Final = {
    "cloudtrail": "AWS CloudTrail",
    "k8s_audit": "Kubernetes audit log",
    "mesh": "Service mesh access log",
}
_SOURCE_EVENT_TYPE: Final = {
    "cloudtrail": "AWS CloudTrail event",
    "k8s_audit": "Kubernetes audit event",
    "mesh": "Envoy access log entry",
}

# principal_kind -> (user.type_id, user.type); OCSF 1.5 user types: 1 User, 2 Admin, 3 System, 99 Other
_USER_TYPE: Final[dict[str, tuple[int, str]]] = {
    "aws_role": (99, "AWS IAM Role"),
    "aws_user": (99, "AWS IAM User"),
    "aws_service": (3, "AWS Service"),
    "aws_root": (2, "AWS Account Root"),
    "aws_sso": (1, "AWS Identity Center User"),
    "aws_other": (99, "AWS Federated Principal"),
    "k8s_service_account": (99, "Kubernetes ServiceAccount"),
    "k8s_user": (99, "Kubernetes User"),
    "k8s_system": (3, "Kubernetes System User"),
    "spiffe": (99, "SPIFFE ID"),
}
_ACCOUNT_TYPE_AWS: Final = 10  # OCSF account.type_id "AWS Account"

# AWS::SERVICE::TYPE spelling: short service prefixes are acronyms (IAM, STS, EC2), others capitalized
_AWS_SERVICE: Final = {"secretsmanager": "SecretsManager", "dynamodb": "DynamoDB", "cloudtrail": "CloudTrail"}
# ARNs of these services name the resource with no type segment
_AWS_TYPELESS: Final = {"sqs": "Queue", "sns": "Topic"}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def epoch_ms(t: datetime) -> int:
    """Whole milliseconds since the epoch, exact (no float rounding) for an aware datetime."""
    return (t - _EPOCH) // _ONE_MS


def to_detection_finding(v: Verdict, *, product_version: str) -> dict[str, object]:
    """Map one verdict to an OCSF 1.5.0 Detection Finding (a plain dict, JSON-ready).

    Callers send only alerts (verdict != expected); an expected verdict still maps, at severity
    Informational. Cheap by design: a few small dicts per call, no copying, no schema work.
    """
    ms = epoch_ms(v.time)
    severity_id = SEVERITY_ID[v.severity]
    title, desc = _FINDING_TEXT[v.reason]
    api: dict[str, object] = {"operation": v.action, "service": {"name": v.system}}
    evidence = _evidence(v, api)
    finding: dict[str, object] = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_ID,
        "activity_name": "Create",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "time": ms,
        "timezone_offset": 0,
        "severity_id": severity_id,
        "severity": _SEVERITY_CAPTION[severity_id],
        "status_id": STATUS_ID_NEW,
        "status": "New",
        "confidence_id": CONFIDENCE_ID_HIGH,
        "confidence": "High",
        "is_alert": v.verdict != vm.EXPECTED,
        "message": v.explanation,
        "metadata": _metadata(v, product_version),
        "finding_info": {
            "uid": v.verdict_id,
            "title": title,
            "desc": desc,
            "types": [v.verdict, v.reason],
            "analytic": {"type_id": ANALYTIC_TYPE_RULE, "type": "Rule", "name": v.reason, "uid": v.reason},
            "data_sources": [_SOURCE_CAPTION.get(v.source, v.source)],
            "related_events": [{"uid": v.event_id, "type": _SOURCE_EVENT_TYPE.get(v.source, v.source)}],
            "first_seen_time": ms,
            "last_seen_time": ms,
        },
        "evidences": [evidence],
        "enrichments": [_enrichment(v)],
        "observables": _observables(v, evidence),
        "unmapped": _unmapped(v),
    }
    resource = _resource(v)
    if resource is not None:
        finding["resources"] = [resource]
    if v.system == "aws":
        finding["cloud"] = _cloud(v)
        finding["api"] = api
    return finding


def ocsf_json(v: Verdict, product_version: str) -> bytes:
    """The Detection Finding of ``v`` as compact JSON bytes (orjson), ready to produce."""
    return orjson.dumps(to_detection_finding(v, product_version=product_version))


def _metadata(v: Verdict, product_version: str) -> dict[str, object]:
    md: dict[str, object] = {
        "version": OCSF_VERSION,
        "product": {"name": PRODUCT_NAME, "vendor_name": VENDOR_NAME, "version": product_version},
        "uid": v.verdict_id,
        "correlation_uid": v.event_id,
        "log_name": LOG_NAME,
        "log_provider": PRODUCT_NAME,
        "labels": list(v.standards),
    }
    if v.system == "aws":
        md["profiles"] = ["cloud"]
    return md


def _evidence(v: Verdict, api: dict[str, object]) -> dict[str, object]:
    evidence: dict[str, object] = {"api": api}
    actor = _actor(v)
    if actor is not None:
        evidence["actor"] = actor
    if v.source_ip:
        evidence["src_endpoint"] = _endpoint(v.source_ip)
    if v.system == "mesh":
        host = v.resource.partition("/")[0]
        if host:
            evidence["dst_endpoint"] = {"hostname": host, "svc_name": host}
    if v.user_agent:
        evidence["http_request"] = {"user_agent": v.user_agent}
    return evidence


def _actor(v: Verdict) -> dict[str, object] | None:
    """``actor.user`` (+ ``session``); None for an unattributed mesh request, which has no actor."""
    principal = v.principal
    if not principal:
        return None
    type_id, type_name = _USER_TYPE.get(v.principal_kind, (99, v.principal_kind))
    name, account = _principal_name_account(principal)
    user: dict[str, object] = {"uid": principal, "name": name, "type_id": type_id, "type": type_name}
    if account:
        user["account"] = {"uid": account, "type_id": _ACCOUNT_TYPE_AWS, "type": "AWS Account"}
    actor: dict[str, object] = {"user": user}
    if v.session:
        session: dict[str, object] = {"uid": v.session}
        if v.principal_kind == "aws_role":
            session["issuer"] = principal
        actor["session"] = session
    return actor


@lru_cache(maxsize=4096)
def _principal_name_account(principal: str) -> tuple[str, str]:
    """Display name and AWS account of a principal; principals repeat, so this is cached."""
    if not principal.startswith("arn:"):
        return principal, ""
    # arn:PARTITION:iam::ACCOUNT:role/PATH/NAME -> NAME, ACCOUNT
    parts = principal.split(":", 5)
    account = parts[4] if len(parts) == 6 else ""
    return principal.rpartition("/")[2] or principal, account


def _endpoint(address: str) -> dict[str, object]:
    """``{"ip": ...}`` for an address; CloudTrail also reports host names and "AWS Internal"."""
    if _is_ip(address):
        return {"ip": address}
    if " " in address:
        return {"name": address}
    return {"hostname": address}


@lru_cache(maxsize=4096)
def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _resource(v: Verdict) -> dict[str, object] | None:
    resource = v.resource
    if not resource or resource == "*":
        return None
    if v.system == "aws":
        return _aws_resource(resource, v.region)
    if v.system == "k8s":
        return _k8s_resource(resource)
    return _mesh_resource(resource, v.action, v.namespace)


def _aws_resource(arn: str, region: str | None) -> dict[str, object]:
    out: dict[str, object] = {"uid": arn}
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        type_name, name = _aws_type_and_name(parts[2], parts[5])
        out["type"] = type_name
        out["name"] = name
    else:
        out["type"] = "AWS"
    if region:
        out["region"] = region
    return out


def _aws_type_and_name(service: str, rest: str) -> tuple[str, str]:
    """``AWS::S3::Object`` style type (as CloudTrail's ``resources[].type``) and the resource name."""
    svc = _AWS_SERVICE.get(service) or (service.upper() if len(service) <= 3 else service.capitalize())
    if service == "s3":
        return (f"AWS::S3::{'Object' if '/' in rest else 'Bucket'}", rest)
    typeless = _AWS_TYPELESS.get(service)
    if typeless is not None:
        return f"AWS::{svc}::{typeless}", rest
    slash, colon = rest.find("/"), rest.find(":")
    cut = colon if slash == -1 or (colon != -1 and colon < slash) else slash
    if cut == -1:
        return f"AWS::{svc}", rest
    return f"AWS::{svc}::{_camel(rest[:cut])}", rest[cut + 1 :] or rest


@lru_cache(maxsize=256)
def _camel(segment: str) -> str:
    # "security-group" -> "SecurityGroup", "foundation-model" -> "FoundationModel"
    return "".join(word.capitalize() for word in segment.replace("_", "-").split("-"))


def _k8s_resource(resource: str) -> dict[str, object]:
    # NAMESPACE/GROUP/RESOURCE[/SUBRESOURCE]/NAME; the name is absent for list/watch/create-collection
    parts = resource.split("/", 4)
    out: dict[str, object] = {"uid": resource}
    if len(parts) < 3:
        return out
    namespace, group, kind = parts[0], parts[1], parts[2]
    if len(parts) == 5:
        kind = f"{kind}/{parts[3]}"
        out["name"] = parts[4]
    elif len(parts) == 4 and parts[3]:
        out["name"] = parts[3]
    out["type"] = f"k8s:{group}/{kind}"
    if namespace and namespace != "_cluster":
        out["namespace"] = namespace
    return out


def _mesh_resource(resource: str, action: str, namespace: str | None) -> dict[str, object]:
    host = resource.partition("/")[0]
    out: dict[str, object] = {"uid": resource, "type": "mesh:tcp" if action == "TCP" else "mesh:http"}
    if host:
        out["name"] = host
        out["hostname"] = host
    if namespace:
        out["namespace"] = namespace
    return out


def _cloud(v: Verdict) -> dict[str, object]:
    cloud: dict[str, object] = {"provider": "AWS"}
    if v.region:
        cloud["region"] = v.region
    if v.account:
        cloud["account"] = {"uid": v.account, "type_id": _ACCOUNT_TYPE_AWS, "type": "AWS Account"}
    return cloud


def _enrichment(v: Verdict) -> dict[str, object]:
    return {
        "name": "actor.user.uid",
        "value": v.principal,
        "type": ENRICHMENT_TYPE,
        "provider": PRODUCT_NAME,
        "short_desc": _FINDING_TEXT[v.reason][0],
        "data": {
            "identity": v.identity,
            "identity_kind": v.identity_kind,
            "owner": v.owner,
            "purpose": v.purpose,
            "entitlement": v.entitlement,
            "verdict": v.verdict,
            "reason": v.reason,
            "baseline_version": v.baseline_version,
            "standards": list(v.standards),
            "via": list(v.via),
            "target": v.target,
            "target_identity": v.target_identity,
            "actor_entitled": v.actor_entitled,
        },
    }


def _observables(v: Verdict, evidence: dict[str, object]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if v.principal:
        out.append(
            {
                "name": "evidences.actor.user.uid",
                "type_id": 31,
                "type": "User Object: uid",
                "value": v.principal,
            }
        )
    src = evidence.get("src_endpoint")
    if isinstance(src, dict) and "ip" in src:
        out.append(
            {"name": "evidences.src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": v.source_ip}
        )
    if v.resource and v.resource != "*":
        out.append({"name": "resources.uid", "type_id": 10, "type": "Resource UID", "value": v.resource})
    return out


def _unmapped(v: Verdict) -> dict[str, object]:
    return {
        "verdict_schema_version": v.schema_version,
        "source": v.source,
        "system": v.system,
        "outcome": v.outcome,
        "principal_kind": v.principal_kind,
        "account": v.account,
        "region": v.region,
        "cluster": v.cluster,
        "namespace": v.namespace,
    }
