"""Kubernetes API-server audit records -> ``NormalizedEvent`` (SPEC §3, §4, §5).

Accepted shapes:
- one ``audit.k8s.io`` Event (``v1``, ``v1beta1``, or no ``apiVersion``, as in most Falco traces);
- an ``EventList`` (webhook backend) or a bare JSON array of events: each item is parsed on its
  own, and a bad item yields a ``ParseError`` carrying only that item;
- an AKS diagnostic record ``{"category": "kube-audit"|"kube-audit-admin", "properties":
  {"log": ...}}`` whose ``log`` is the event as an object or as a JSON string, alone or in Azure's
  ``{"records": [...]}`` export body;
- a GKE Cloud Audit ``LogEntry`` whose ``protoPayload`` is a ``k8s.io`` call (``k8s_gke``).

Only the stages ``ResponseComplete`` and ``Panic`` (or no stage) become events; other stages are
``Skipped("k8s_stage_<stage>")``. Nothing raises for bad input: every problem is a ``ParseError``.

Resource strings (details in ``k8s_mapping``): NAMESPACE is ``objectRef.namespace`` or
``_cluster``; Namespace objects are cluster-scoped, so the name the API server copies into their
``objectRef.namespace`` on get/delete is dropped. GROUP is ``objectRef.apiGroup``, else the group
of an ``/apis/GROUP/...`` request URI, else ``core``. NAME is ``objectRef.name``, else
``requestObject.metadata.name`` on ``create``, else nothing (``payments/core/secrets`` for a list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

import orjson

from enricher.core.events import AccessChange, NormalizedEvent, Skipped
from enricher.core.parsers.k8s_gke import parse_gke_entry
from enricher.core.parsers.k8s_mapping import (
    CLUSTER_SCOPE,
    DECISION,
    SKIPPED_STAGES,
    SOURCE,
    SYSTEM,
    WRITE_VERBS,
    access_change,
    nonresource_string,
    parse_time,
    principal_kind,
    record_hash,
    resource_string,
    show,
    text,
)
from enricher.errors import ParseError

K8sItem = NormalizedEvent | Skipped | ParseError
_Parse = Callable[[Any, str | None, datetime | None], K8sItem]

_FINAL_STAGES: Final = ("ResponseComplete", "Panic")
_AUDIT_V1: Final = "audit.k8s.io/v1"
_AKS_CATEGORIES: Final = ("kube-audit", "kube-audit-admin")
_TIME_KEYS: Final = ("stageTimestamp", "requestReceivedTimestamp", "timestamp")
# user.extra keys naming the credential the request was made with, most specific first
_SESSION_KEYS: Final = ("authentication.kubernetes.io/credential-id", "authentication.kubernetes.io/pod-name")
_EMPTY: Final[dict[str, Any]] = {}

# Last resort: the mapping checks every value it reads, so this only turns an oversight into a
# ``k8s_malformed`` ParseError for that one record instead of a crashed worker (the fuzz tests
# assert it never fires).
_DATA_ERRORS: Final = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    UnicodeError,
)


def parse_k8s_audit(
    obj: object, cluster: str | None = None, received: datetime | None = None
) -> Iterator[K8sItem]:
    """Yield one event, ``Skipped`` or ``ParseError`` per audit record in ``obj`` (decoded JSON).

    ``cluster`` names the cluster the stream comes from (workers configure it); ``received`` (aware,
    UTC: the Kafka message time) is the event time of a record that carries no timestamp at all,
    which otherwise becomes ``ParseError("k8s_missing_time")``.
    """
    if isinstance(obj, list):
        for item in obj:
            yield _guarded(_parse_event, item, cluster, received)
        return
    if not isinstance(obj, dict):
        yield ParseError("k8s_not_an_event", f"expected a JSON object, got {type(obj).__name__}", raw=obj)
        return
    kind = obj.get("kind")
    if kind == "EventList":
        items = obj.get("items")
        if not isinstance(items, list):
            yield ParseError("k8s_not_an_event", "EventList without an items array", raw=obj)
            return
        for item in items:
            yield _guarded(_parse_event, item, cluster, received)
    elif "protoPayload" in obj:
        yield _guarded(parse_gke_entry, obj, cluster, received)
    elif "properties" in obj and "category" in obj:
        yield _guarded(_parse_aks, obj, cluster, received)
    elif kind is None and isinstance(records := obj.get("records"), list):
        for record in records:
            yield _guarded(_parse_aks, record, cluster, received)
    else:
        yield _guarded(_parse_event, obj, cluster, received)


def parse_k8s_record(obj: dict[str, Any]) -> K8sItem | None:
    """The item of one plain audit event (``kind: Event``), as ``parse_k8s_audit`` yields it; None
    for the shapes it unwraps first (lists, AKS and GKE envelopes)."""
    if obj.get("kind") != "Event" or "protoPayload" in obj or ("properties" in obj and "category" in obj):
        return None
    return _guarded(_parse_event, obj, None, None)


def _guarded(parse: _Parse, record: object, cluster: str | None, received: datetime | None) -> K8sItem:
    try:
        return parse(record, cluster, received)
    except _DATA_ERRORS as exc:
        return ParseError("k8s_malformed", f"{type(exc).__name__}: {exc}"[:300], raw=record)


def _parse_aks(envelope: Any, cluster: str | None, received: datetime | None) -> K8sItem:
    if not isinstance(envelope, dict) or envelope.get("category") not in _AKS_CATEGORIES:
        return ParseError("k8s_not_an_event", "not an AKS kube-audit diagnostic record", raw=envelope)
    properties = envelope.get("properties")
    log = properties.get("log") if isinstance(properties, dict) else None
    if isinstance(log, str):
        # AKS may deliver the event JSON-encoded inside the envelope: a second decode
        try:
            log = orjson.loads(log)
        except orjson.JSONDecodeError as exc:
            return ParseError("k8s_invalid_json", f"AKS properties.log: {exc}", raw=envelope)
    if not isinstance(log, dict):
        return ParseError("k8s_not_an_event", "AKS record without an event in properties.log", raw=envelope)
    return _parse_event(log, cluster, received)


def _parse_event(d: Any, cluster: str | None, received: datetime | None) -> K8sItem:
    if not isinstance(d, dict):
        return ParseError("k8s_not_an_event", f"expected a JSON object, got {type(d).__name__}", raw=d)
    get = d.get
    kind, api, stage = get("kind"), get("apiVersion"), get("stage")
    # fast path for the common shape; anything else goes through the full envelope check
    if not (kind == "Event" and api == _AUDIT_V1 and stage == "ResponseComplete"):
        rejected = _check_envelope(d, kind, api, stage)
        if rejected is not None:
            return rejected
    verb = get("verb")
    if type(verb) is not str or not verb:
        return ParseError("k8s_missing_verb", "audit event without a verb", raw=d)
    when = _event_time(d, received)
    if not isinstance(when, datetime):
        return when
    user = get("user")
    if type(user) is not dict:
        user = _EMPTY
    username, principal, via = _actor(user, get("impersonatedUser"))
    outcome, error_code = _outcome(get("responseStatus"), get("annotations"))
    namespace: str | None = None
    change: AccessChange | None = None
    ref = _object_ref(d, verb)
    if ref is None:
        resource = nonresource_string(get("requestURI"))
    else:
        namespace = ref[3]
        resource = resource_string(namespace, ref[0], ref[1], ref[2], ref[4])
        if verb in WRITE_VERBS:
            change = access_change(verb, ref, resource, get("requestObject"), get("responseObject"))
    audit_id = get("auditID")
    if type(audit_id) is not str or not audit_id:
        audit_id = record_hash(d)
        if audit_id is None:
            return ParseError(
                "k8s_unidentifiable", "record without auditID that cannot be encoded to derive an id", raw=d
            )
    ips = get("sourceIPs")
    agent = get("userAgent")
    extra = user.get("extra")
    return NormalizedEvent(  # positional, as in the CloudTrail parser (hot path)
        SOURCE,
        SYSTEM,
        audit_id,  # event_id
        when,  # time
        principal,
        principal_kind(principal),
        username,  # raw_principal
        verb,  # action
        resource,
        outcome,
        _session(extra) if extra else None,  # session
        None,  # session_key
        via,
        None,  # account
        None,  # region
        cluster,
        namespace,
        text(ips[0]) if type(ips) is list and ips else None,  # source_ip
        agent if type(agent) is str and agent else None,  # user_agent
        change,
        None,  # link
        error_code,
        namespace or CLUSTER_SCOPE,  # boundary
    )


def _actor(user: dict[str, Any], impersonated: object) -> tuple[str, str, tuple[str, ...]]:
    """(the authenticated username, the effective principal, ``via``).

    Under impersonation the impersonated user is the effective identity and the real caller is
    recorded in ``via``.
    """
    username = user.get("username")
    if type(username) is not str:
        username = ""
    if impersonated and isinstance(impersonated, dict):
        acting = impersonated.get("username")
        if isinstance(acting, str) and acting:
            return username, acting, (username,) if username else ()
    return username, username, ()


def _check_envelope(
    d: dict[str, Any], kind: object, api: object, stage: object
) -> ParseError | Skipped | None:
    """Reject what is not an audit event and drop non-final stages; None for an event to map."""
    if kind is not None and kind != "Event":
        return ParseError("k8s_not_an_event", f"kind {show(kind)} is not an audit Event", raw=d)
    if kind is None and "verb" not in d and "auditID" not in d:
        return ParseError("k8s_not_an_event", "neither kind, verb nor auditID: not an audit event", raw=d)
    # ``kind: Event`` with apiVersion v1 is a core Event object (kubectl get events), not an audit event
    if api is not None and not (isinstance(api, str) and api.startswith("audit.k8s.io/")):
        return ParseError("k8s_not_an_event", f"apiVersion {show(api)} is not audit.k8s.io", raw=d)
    if stage is None or stage in _FINAL_STAGES:
        return None
    if isinstance(stage, str) and stage in SKIPPED_STAGES:
        return SKIPPED_STAGES[stage]
    return ParseError("k8s_bad_stage", f"unknown audit stage {show(stage)}", raw=d)


def _event_time(d: dict[str, Any], received: datetime | None) -> datetime | ParseError:
    value: object = None
    for key in _TIME_KEYS:
        value = d.get(key)
        if value:
            break
    if not value:
        metadata = d.get("metadata")  # v1beta1 events: metadata.creationTimestamp, second precision
        value = metadata.get("creationTimestamp") if isinstance(metadata, dict) else None
        # Panther's normalized time: its EKS fixtures are often trimmed of every other timestamp
        value = value or d.get("p_event_time")
    if not value:
        if received is not None:
            return received
        return ParseError("k8s_missing_time", "audit event without a timestamp", raw=d)
    return parse_time(value, d)


def _object_ref(d: dict[str, Any], verb: str) -> tuple[str, str, str | None, str | None, str] | None:
    """(group, resource, subresource, namespace, name), or None for a non-resource request."""
    ref = d.get("objectRef")
    if not isinstance(ref, dict):
        return None
    # ``text`` of each field, inline (this runs for nearly every event): non-empty strings only
    res = ref.get("resource")
    if type(res) is not str or not res:
        res = text(res)
        if res is None:
            return None
    group = ref.get("apiGroup")
    if type(group) is not str or not group:
        group = text(group) or _group_from_uri(d.get("requestURI"))
    namespace = ref.get("namespace")
    if type(namespace) is not str or not namespace:
        namespace = text(namespace)
    name = ref.get("name")
    if type(name) is not str or not name:
        name = text(name)
        if name is None and verb == "create":
            request_obj = d.get("requestObject")
            metadata = request_obj.get("metadata") if isinstance(request_obj, dict) else None
            name = text(metadata.get("name")) if isinstance(metadata, dict) else None
    if res == "namespaces" and group == "core":
        namespace = None
    sub = ref.get("subresource")
    return group, res, sub if type(sub) is str and sub else text(sub), namespace, name or ""


def _group_from_uri(uri: object) -> str:
    if isinstance(uri, str) and uri.startswith("/apis/"):
        group = uri[6:].partition("/")[0].partition("?")[0]
        if group:
            return group
    return "core"


def _outcome(status: object, annotations: object) -> tuple[str, str | None]:
    """``denied`` for 401/403 or a ``forbid`` decision, ``error`` for other codes >= 400."""
    code = status.get("code") if isinstance(status, dict) else None
    if type(code) is not int or not 0 < code < 1000:  # not an HTTP status (bool is not an int here)
        code = None
    decision = annotations.get(DECISION) if isinstance(annotations, dict) else None
    if decision != "forbid" and (code is None or code < 400):
        return "success", None
    outcome = "denied" if code == 401 or code == 403 or decision == "forbid" else "error"
    reason = text(status.get("reason")) if isinstance(status, dict) else None
    return outcome, reason or (str(code) if code is not None else "Forbidden")


def _session(extra: object) -> str | None:
    if not isinstance(extra, dict):
        return None
    for key in _SESSION_KEYS:
        values = extra.get(key)
        if isinstance(values, list) and values and isinstance(values[0], str):
            return values[0]
    return None
