"""Canonical Kubernetes strings shared by the audit-event and GKE mappers (SPEC §4, §5, §6).

Resource strings are ``NAMESPACE/GROUP/RESOURCE[/SUBRESOURCE][/NAME]``: ``_cluster`` stands for
the namespace of cluster-scoped objects, ``core`` for the core API group, and an empty name
leaves no trailing slash (a list of secrets is ``payments/core/secrets``). Requests that name no
object (``/healthz``, ``/api``) are ``_nonresource`` + path (``_nonresource/healthz``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

import orjson

from enricher.core.events import K8S_SERVICE_ACCOUNT, K8S_SYSTEM, K8S_USER, AccessChange, Skipped
from enricher.core.parsers._time import parse_rfc3339
from enricher.errors import ParseError

SOURCE: Final = "k8s_audit"
SYSTEM: Final = "k8s"
CLUSTER_SCOPE: Final = "_cluster"
NONRESOURCE: Final = "_nonresource"
DECISION: Final = "authorization.k8s.io/decision"
SKIPPED_STAGES: Final = {
    stage: Skipped(f"k8s_stage_{stage.lower()}") for stage in ("RequestReceived", "ResponseStarted")
}

# verbs that can change an object (and so the access model, for the resources below)
WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})
_RBAC_GROUP: Final = "rbac.authorization.k8s.io"
_RBAC_RESOURCES: Final = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
_BINDINGS: Final = frozenset({"rolebindings", "clusterrolebindings"})
_MESH_GROUP: Final = "security.istio.io"
_MESH_POLICIES: Final = frozenset({"authorizationpolicies", "peerauthentications", "requestauthentications"})
_SA_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"
_SA_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"


_KIND_CACHE_MAX: Final = 4096
_kinds: dict[str, str] = {}


def principal_kind(username: str) -> str:
    """Classify a k8s username: service account, system component or (everything else) user.

    Only ``system:serviceaccount:NS:SA`` with exactly four non-empty parts is a service account;
    ``system:serviceaccounts:...`` is a group name (or a typo) and stays a plain user. Memoised:
    the same few accounts make most requests.
    """
    try:
        return _kinds[username]
    except KeyError:
        pass
    kind = _principal_kind(username)
    if len(username) <= 256:  # a bounded memo: no giant keys from hostile input
        if len(_kinds) >= _KIND_CACHE_MAX:
            _kinds.clear()
        _kinds[username] = kind
    return kind


def _principal_kind(username: str) -> str:
    if not username.startswith("system:"):
        return K8S_USER
    if username.startswith("system:serviceaccount"):
        parts = username.split(":")
        if len(parts) == 4 and parts[1] == "serviceaccount" and parts[2] and parts[3]:
            return K8S_SERVICE_ACCOUNT
        return K8S_USER
    return K8S_SYSTEM


def resource_string(namespace: str | None, group: str, res: str, sub: str | None, name: str) -> str:
    """The canonical resource of an object reference (see the module docstring)."""
    scope = namespace or CLUSTER_SCOPE
    if sub:
        return f"{scope}/{group}/{res}/{sub}/{name}" if name else f"{scope}/{group}/{res}/{sub}"
    return f"{scope}/{group}/{res}/{name}" if name else f"{scope}/{group}/{res}"


def nonresource_string(path: object) -> str:
    """``_nonresource`` + the request path without its query string."""
    path = path.partition("?")[0] if isinstance(path, str) else ""
    if not path:
        return NONRESOURCE
    return NONRESOURCE + path if path.startswith("/") else f"{NONRESOURCE}/{path}"


def access_change(
    verb: str,
    ref: tuple[str, str, str | None, str | None, str],
    resource: str,
    request_obj: object,
    response_obj: object,
) -> AccessChange | None:
    """The access-model change a write makes, or None (SPEC §6, drift).

    ``ref`` is (group, resource, subresource, namespace, name). The target is the changed object's
    resource string, except: a (Cluster)RoleBinding whose subjects name a ServiceAccount targets
    the first such ``system:serviceaccount:NS:SA`` (the identity whose access changed); a
    ``serviceaccounts/token`` request targets that service account; a service-account token
    Secret targets the account named in its annotation (both need the namespace and name, else
    the resource string). Denied and failed attempts carry the change too: rules decide what an
    attempt means.
    """
    if verb not in WRITE_VERBS:
        return None
    group, res, sub, namespace, name = ref
    if sub is None:
        if group == _RBAC_GROUP and res in _RBAC_RESOURCES:
            target = _binding_subject(request_obj, response_obj, namespace) if res in _BINDINGS else None
            return AccessChange("rbac", target or resource)
        if group == _MESH_GROUP and res in _MESH_POLICIES:
            return AccessChange("mesh_policy", resource)
        if res == "secrets" and group == "core" and verb == "create":
            return _token_secret(request_obj, response_obj, namespace, resource)
    elif sub == "token" and res == "serviceaccounts" and group == "core" and verb == "create":
        return AccessChange("sa_token", service_account(namespace, name) or resource)
    return None


def _binding_subject(request_obj: object, response_obj: object, namespace: str | None) -> str | None:
    for obj in (request_obj, response_obj):
        subjects = obj.get("subjects") if isinstance(obj, dict) else None
        if not isinstance(subjects, list):
            continue
        for subject in subjects:
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                found = service_account(text(subject.get("namespace")) or namespace, subject.get("name"))
                if found:
                    return found
    return None


def _token_secret(
    request_obj: object, response_obj: object, namespace: str | None, resource: str
) -> AccessChange | None:
    for obj in (request_obj, response_obj):
        if isinstance(obj, dict) and obj.get("type") == _SA_TOKEN_TYPE:
            metadata = obj.get("metadata")
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            account = annotations.get(_SA_NAME_ANNOTATION) if isinstance(annotations, dict) else None
            return AccessChange("sa_token", service_account(namespace, account) or resource)
    return None


def service_account(namespace: object, name: object) -> str | None:
    """``system:serviceaccount:NS:NAME`` when both parts are non-empty strings, else None."""
    if isinstance(namespace, str) and namespace and isinstance(name, str) and name:
        return f"system:serviceaccount:{namespace}:{name}"
    return None


def parse_time(value: object, raw: object) -> datetime | ParseError:
    """An RFC 3339 timestamp as an aware UTC datetime, or a ``k8s_bad_time`` error for ``raw``."""
    if not isinstance(value, str):
        return ParseError("k8s_bad_time", f"timestamp is a {type(value).__name__}", raw=raw)
    try:
        return parse_rfc3339(value)
    except ValueError:
        return ParseError("k8s_bad_time", f"not an RFC 3339 timestamp: {value[:40]!r}", raw=raw)


def text(value: object) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def record_hash(record: object) -> str | None:
    """A stable id for a record without an audit id: a digest of its canonical JSON.

    None for a record neither orjson nor ``repr`` can encode (only Python-built input gets there:
    integers beyond the digit limit, nesting beyond the recursion limit).
    """
    try:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # deeper than orjson nests, lone surrogates, huge ints
        try:
            data = repr(record).encode("utf-8", "surrogatepass")
        except (RecursionError, ValueError):
            return None
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def show(value: object) -> str:
    """A short, safe rendering of an unexpected value for an error detail."""
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, bool | float) or (isinstance(value, int) and -(2**63) <= value < 2**64):
        return repr(value)
    return f"a {type(value).__name__}"
