"""GKE Cloud Audit ``LogEntry`` records of Kubernetes API calls -> ``NormalizedEvent``.

GKE exports the API server's audit log as Cloud Audit Logs: ``protoPayload.methodName`` is
``io.k8s.<group, reversed>.<version>.<resource>[.<subresource>].<verb>`` (``io.k8s.<verb>`` for
non-resource paths such as ``readyz``), ``protoPayload.resourceName`` is
``<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`` with ``core`` for the
core group, and a long-running request (watch, exec) is logged first with ``operation.last``
false, the equivalent of the ``ResponseStarted`` stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from enricher.core.events import AccessChange, NormalizedEvent, Skipped
from enricher.core.parsers.k8s_mapping import (
    CLUSTER_SCOPE,
    DECISION,
    SKIPPED_STAGES,
    SOURCE,
    SYSTEM,
    access_change,
    nonresource_string,
    parse_time,
    principal_kind,
    record_hash,
    resource_string,
    text,
)
from enricher.errors import ParseError

_DENIED_CODES: Final = (7, 16)  # google.rpc PERMISSION_DENIED, UNAUTHENTICATED
# API groups named without a .k8s.io suffix (io.k8s.apps.v1... is group "apps", not "apps.k8s.io")
_UNSUFFIXED_GROUPS: Final = frozenset({"core", "apps", "batch", "autoscaling", "policy", "extensions"})
_EMPTY: Final[dict[str, Any]] = {}


def parse_gke_entry(
    entry: dict[str, Any], cluster: str | None, received: datetime | None
) -> NormalizedEvent | Skipped | ParseError:
    """Map one GKE ``LogEntry`` with a ``k8s.io`` ``protoPayload``; the cluster defaults to its label."""
    payload = entry.get("protoPayload")
    method = payload.get("methodName") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(method, str) or not _is_k8s_call(payload, method):
        return ParseError("k8s_not_an_event", "GKE log entry is not a k8s.io API call", raw=entry)
    operation = entry.get("operation")
    if isinstance(operation, dict) and operation.get("last") is False:
        return SKIPPED_STAGES["ResponseStarted"]
    verb = method.rpartition(".")[2]
    if not verb:
        return ParseError("k8s_missing_verb", "GKE methodName without a verb", raw=entry)
    stamp = entry.get("timestamp") or payload.get("timestamp") or entry.get("receiveTimestamp")
    when = parse_time(stamp, entry) if stamp else received
    if not isinstance(when, datetime):
        return when or ParseError("k8s_missing_time", "GKE log entry without a timestamp", raw=entry)

    auth = payload.get("authenticationInfo")
    principal = (text(auth.get("principalEmail")) if isinstance(auth, dict) else None) or ""
    meta = payload.get("requestMetadata")
    if not isinstance(meta, dict):
        meta = _EMPTY
    ref = _gke_ref(method, payload.get("resourceName"))
    namespace: str | None = None
    change: AccessChange | None = None
    if ref is None:
        resource = nonresource_string(payload.get("resourceName"))
    else:
        group, res, sub, namespace, name = ref
        resource = resource_string(namespace, group, res, sub, name)
        change = access_change(verb, ref, resource, payload.get("request"), payload.get("response"))
    outcome, error_code = _outcome(entry, payload)
    op_id = operation.get("id") if isinstance(operation, dict) else None
    event_id = text(op_id) or text(entry.get("insertId")) or record_hash(entry)
    if event_id is None:
        return ParseError(
            "k8s_unidentifiable", "GKE entry without an id that cannot be encoded to derive an id", raw=entry
        )
    return NormalizedEvent(
        source=SOURCE,
        system=SYSTEM,
        event_id=event_id,
        time=when,
        principal=principal,
        principal_kind=principal_kind(principal),
        raw_principal=principal,
        action=verb,
        resource=resource,
        outcome=outcome,
        cluster=cluster if cluster is not None else _cluster_label(entry),
        namespace=namespace,
        source_ip=text(meta.get("callerIp")),
        user_agent=text(meta.get("callerSuppliedUserAgent")),
        change=change,
        error_code=error_code,
        boundary=namespace or CLUSTER_SCOPE,
    )


def _is_k8s_call(payload: dict[str, Any], method: str) -> bool:
    service = payload.get("serviceName")
    return service == "k8s.io" or (service is None and method.startswith("io.k8s."))


def _gke_ref(method: str, resource_name: object) -> tuple[str, str, str | None, str | None, str] | None:
    """(group, resource, subresource, namespace, name) of a GKE call; None for a non-resource path."""
    segments = method.split(".")
    version_at = next((i for i in range(2, len(segments)) if _is_version(segments[i])), -1)
    tail = len(segments) - version_at  # version, resource, [subresource,] verb
    if version_at < 0 or tail not in (3, 4):
        return None
    res = segments[version_at + 1]
    sub = segments[version_at + 2] if tail == 4 else None
    parts = resource_name.split("/") if isinstance(resource_name, str) else []
    rest: list[str] = []
    if len(parts) >= 3 and parts[0]:
        group, rest = parts[0], parts[2:]
    elif version_at == 3 and segments[2] in _UNSUFFIXED_GROUPS:
        group = segments[2]
    else:  # no usable resourceName: undo the reversed group of the method name
        group = ".".join(reversed(segments[:version_at]))
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces" and res != "namespaces":
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) >= 2 and rest[0] == res else ""
    return group, res, sub, namespace or None, name


def _is_version(segment: str) -> bool:
    return len(segment) >= 2 and segment[0] == "v" and segment[1].isdigit()


def _outcome(entry: dict[str, Any], payload: dict[str, Any]) -> tuple[str, str | None]:
    status = payload.get("status")
    if not isinstance(status, dict):
        status = _EMPTY
    code = status.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = 0
    grants = payload.get("authorizationInfo")
    refused = isinstance(grants, list) and any(
        isinstance(g, dict) and g.get("granted") is False for g in grants
    )
    labels = entry.get("labels")
    forbid = isinstance(labels, dict) and labels.get(DECISION) == "forbid"
    if code in _DENIED_CODES or refused or forbid:
        outcome = "denied"
    elif code != 0:
        outcome = "error"
    else:
        return "success", None
    return outcome, text(status.get("message")) or (str(code) if code else "Forbidden")


def _cluster_label(entry: dict[str, Any]) -> str | None:
    resource = entry.get("resource")
    labels = resource.get("labels") if isinstance(resource, dict) else None
    return text(labels.get("cluster_name")) if isinstance(labels, dict) else None
