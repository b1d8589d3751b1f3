"""Kubernetes audit parser: envelopes, stages, actor, resource strings, outcome and access changes.

Cases are real-shaped audit events (fields and values as the API server writes them); the corpus
is covered file by file in ``test_k8s_audit_corpus.py``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from enricher.core.events import (
    K8S_SERVICE_ACCOUNT,
    K8S_SYSTEM,
    K8S_USER,
    AccessChange,
    NormalizedEvent,
    Skipped,
)
from enricher.core.parsers.k8s_audit import parse_k8s_audit
from enricher.core.parsers.k8s_mapping import principal_kind
from enricher.errors import ParseError

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def audit_event(**overrides: Any) -> dict[str, Any]:
    """A v1 ResponseComplete event as the log backend writes it (a service account reading a secret)."""
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/secrets/db-creds",
        "verb": "get",
        "user": {
            "username": "system:serviceaccount:payments:api",
            "uid": "3f0c7f5e-6d5b-4c4e-9d0e-5f6b7a8c9d0e",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"],
            "extra": {
                "authentication.kubernetes.io/credential-id": ["JTI=7f0b3e52-1c1a-4b0e-8a55-0c1d2e3f4a5b"],
                "authentication.kubernetes.io/node-name": ["ip-10-0-1-23.ec2.internal"],
                "authentication.kubernetes.io/pod-name": ["api-7d4b9c6f5-x2kq8"],
                "authentication.kubernetes.io/pod-uid": ["b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"],
            },
        },
        "sourceIPs": ["10.0.1.23"],
        "userAgent": "payments-api/1.4.2 (linux/amd64) kubernetes/v1.30.2",
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": "db-creds", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-02-10T08:15:30.123456Z",
        "stageTimestamp": "2026-02-10T08:15:30.130981Z",
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": 'RBAC: allowed by RoleBinding "api-secrets/payments" of Role '
            '"secret-reader" to ServiceAccount "api/payments"',
        },
    }
    event.update(overrides)
    return event


def parse_all(obj: object, **kwargs: Any) -> list[NormalizedEvent | Skipped | ParseError]:
    return list(parse_k8s_audit(obj, **kwargs))


def parse_one(obj: object, **kwargs: Any) -> NormalizedEvent:
    items = parse_all(obj, **kwargs)
    assert len(items) == 1, items
    item = items[0]
    assert isinstance(item, NormalizedEvent), item
    return item


def test_service_account_reading_a_secret() -> None:
    event = parse_one(audit_event(), cluster="prod-eu-1")
    assert event.source == "k8s_audit"
    assert event.system == "k8s"
    assert event.event_id == "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11"
    assert event.time == datetime(2026, 2, 10, 8, 15, 30, 130981, tzinfo=UTC)
    assert event.principal == "system:serviceaccount:payments:api"
    assert event.principal_kind == K8S_SERVICE_ACCOUNT
    assert event.raw_principal == "system:serviceaccount:payments:api"
    assert event.via == ()
    assert event.session == "JTI=7f0b3e52-1c1a-4b0e-8a55-0c1d2e3f4a5b"
    assert event.action == "get"
    assert event.resource == "payments/core/secrets/db-creds"
    assert event.outcome == "success"
    assert event.error_code is None
    assert event.cluster == "prod-eu-1"
    assert event.namespace == "payments"
    assert event.boundary == "payments"
    assert event.source_ip == "10.0.1.23"
    assert event.user_agent == "payments-api/1.4.2 (linux/amd64) kubernetes/v1.30.2"
    assert event.change is None
    assert event.link is None


def test_session_falls_back_to_the_pod_name_and_is_none_without_extra() -> None:
    event = audit_event()
    del event["user"]["extra"]["authentication.kubernetes.io/credential-id"]
    assert parse_one(event).session == "api-7d4b9c6f5-x2kq8"
    event["user"]["extra"] = {}
    assert parse_one(event).session is None


def test_impersonation_makes_the_impersonated_user_the_principal() -> None:
    # audit2rbac demo shape: system:admin acting as a service account
    event = audit_event(
        user={"username": "system:admin", "groups": ["system:masters", "system:authenticated"]},
        impersonatedUser={
            "username": "system:serviceaccount:ns1:sa1",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"],
        },
        verb="list",
        objectRef={"resource": "pods", "namespace": "default", "apiVersion": "v1"},
    )
    parsed = parse_one(event)
    assert parsed.principal == "system:serviceaccount:ns1:sa1"
    assert parsed.principal_kind == K8S_SERVICE_ACCOUNT
    assert parsed.via == ("system:admin",)
    assert parsed.raw_principal == "system:admin"
    assert parsed.resource == "default/core/pods"


def test_impersonation_with_an_empty_username_is_ignored() -> None:
    event = audit_event(impersonatedUser={"username": "", "groups": []})
    parsed = parse_one(event)
    assert parsed.principal == "system:serviceaccount:payments:api"
    assert parsed.via == ()


@pytest.mark.parametrize(
    ("username", "kind"),
    [
        ("system:serviceaccount:kube-system:replicaset-controller", K8S_SERVICE_ACCOUNT),
        ("system:serviceaccounts:default:default", K8S_USER),  # a group name, typo'd as a user
        ("system:serviceaccount:default", K8S_USER),
        ("system:serviceaccount:default:api:extra", K8S_USER),
        ("system:serviceaccount::api", K8S_USER),
        ("system:node:ip-192-168-3-178.us-west-2.compute.internal", K8S_SYSTEM),
        ("system:kube-controller-manager", K8S_SYSTEM),
        ("system:kube-scheduler", K8S_SYSTEM),
        ("system:apiserver", K8S_SYSTEM),
        ("system:anonymous", K8S_SYSTEM),
        ("system:gke-master-healthcheck", K8S_SYSTEM),
        ("minikube-user", K8S_USER),
        ("alice@example.com", K8S_USER),
        ("aksService", K8S_USER),
        ("eks:node-manager", K8S_USER),
        ("", K8S_USER),
    ],
)
def test_principal_kinds(username: str, kind: str) -> None:
    assert principal_kind(username) == kind
    event = audit_event(user={"username": username, "groups": ["system:authenticated"]})
    parsed = parse_one(event)
    assert (parsed.principal, parsed.principal_kind) == (username, kind)


def test_missing_user_gives_an_empty_principal() -> None:
    event = audit_event()
    del event["user"]
    parsed = parse_one(event)
    assert (parsed.principal, parsed.principal_kind, parsed.raw_principal) == ("", K8S_USER, "")
    assert parsed.session is None


def test_forbidden_is_denied() -> None:
    event = audit_event(
        responseStatus={
            "metadata": {},
            "status": "Failure",
            "message": 'secrets "db-creds" is forbidden: User "system:serviceaccount:payments:api" cannot '
            'get resource "secrets" in API group "" in the namespace "payments"',
            "reason": "Forbidden",
            "details": {"name": "db-creds", "kind": "secrets"},
            "code": 403,
        },
        annotations={"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
    )
    parsed = parse_one(event)
    assert (parsed.outcome, parsed.error_code) == ("denied", "Forbidden")


def test_unauthorized_401_is_denied() -> None:
    event = audit_event(
        user={"username": "system:anonymous", "groups": ["system:unauthenticated"]},
        responseStatus={"metadata": {}, "status": "Failure", "reason": "Unauthorized", "code": 401},
    )
    assert (parse_one(event).outcome, parse_one(event).error_code) == ("denied", "Unauthorized")


def test_forbid_decision_without_response_status_is_denied() -> None:
    event = audit_event(annotations={"authorization.k8s.io/decision": "forbid"})
    del event["responseStatus"]
    parsed = parse_one(event)
    assert (parsed.outcome, parsed.error_code) == ("denied", "Forbidden")


def test_not_found_is_an_error_not_a_denial() -> None:
    event = audit_event(
        responseStatus={
            "metadata": {},
            "status": "Failure",
            "message": 'secrets "nonexistent-secret" not found',
            "reason": "NotFound",
            "details": {"name": "nonexistent-secret", "kind": "secrets"},
            "code": 404,
        }
    )
    parsed = parse_one(event)
    assert (parsed.outcome, parsed.error_code) == ("error", "NotFound")


def test_error_without_a_reason_reports_the_code() -> None:
    event = audit_event(responseStatus={"metadata": {}, "code": 429})
    assert (parse_one(event).outcome, parse_one(event).error_code) == ("error", "429")


def test_no_response_status_and_no_decision_is_success() -> None:
    event = audit_event()
    del event["responseStatus"]
    del event["annotations"]
    parsed = parse_one(event)
    assert (parsed.outcome, parsed.error_code) == ("success", None)


def test_cluster_role_binding_to_a_service_account_targets_the_account() -> None:
    binding = {
        "kind": "ClusterRoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "ci-deployer-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "deployers"},
            {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
            {"kind": "ServiceAccount", "name": "other", "namespace": "ci"},
        ],
    }
    event = audit_event(
        level="RequestResponse",
        verb="create",
        requestURI="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        user={"username": "alice@example.com", "groups": ["system:masters", "system:authenticated"]},
        objectRef={
            "resource": "clusterrolebindings",
            "name": "ci-deployer-admin",
            "apiGroup": "rbac.authorization.k8s.io",
            "apiVersion": "v1",
        },
        requestObject=binding,
        responseObject={**binding, "metadata": {"name": "ci-deployer-admin", "resourceVersion": "9912"}},
        responseStatus={"metadata": {}, "code": 201},
    )
    parsed = parse_one(event)
    assert parsed.resource == "_cluster/rbac.authorization.k8s.io/clusterrolebindings/ci-deployer-admin"
    assert parsed.namespace is None
    assert parsed.boundary == "_cluster"
    assert parsed.change == AccessChange("rbac", "system:serviceaccount:ci:deployer")


def test_role_binding_subject_without_namespace_takes_the_bindings_namespace() -> None:
    event = audit_event(
        verb="create",
        objectRef={
            "resource": "rolebindings",
            "namespace": "payments",
            "apiGroup": "rbac.authorization.k8s.io",
        },
        requestObject={
            "kind": "RoleBinding",
            "metadata": {"name": "api-secrets", "namespace": "payments"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "api"}],
        },
        responseStatus={"metadata": {}, "code": 201},
    )
    parsed = parse_one(event)
    # name from requestObject.metadata on create (objectRef has none)
    assert parsed.resource == "payments/rbac.authorization.k8s.io/rolebindings/api-secrets"
    assert parsed.change == AccessChange("rbac", "system:serviceaccount:payments:api")


def test_binding_to_users_only_targets_the_binding() -> None:
    event = audit_event(
        verb="create",
        objectRef={"resource": "clusterrolebindings", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"},
        requestObject={"subjects": [{"kind": "User", "name": "minikube"}]},
    )
    target = "_cluster/rbac.authorization.k8s.io/clusterrolebindings/ops"
    assert parse_one(event).change == AccessChange("rbac", target)


@pytest.mark.parametrize("verb", ["update", "patch", "delete", "deletecollection"])
def test_other_rbac_writes_are_changes(verb: str) -> None:
    event = audit_event(
        verb=verb,
        objectRef={
            "resource": "clusterroles",
            "name": "system:node",
            "apiGroup": "rbac.authorization.k8s.io",
        },
    )
    target = "_cluster/rbac.authorization.k8s.io/clusterroles/system:node"
    assert parse_one(event).change == AccessChange("rbac", target)


@pytest.mark.parametrize("verb", ["get", "list", "watch"])
def test_rbac_reads_are_not_changes(verb: str) -> None:
    event = audit_event(
        verb=verb,
        objectRef={"resource": "clusterrolebindings", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"},
    )
    assert parse_one(event).change is None


def test_denied_rbac_write_still_carries_the_change() -> None:
    event = audit_event(
        verb="create",
        objectRef={"resource": "roles", "namespace": "kube-system", "apiGroup": "rbac.authorization.k8s.io"},
        requestObject={"kind": "Role", "metadata": {"name": "backdoor"}},
        responseStatus={"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403},
    )
    parsed = parse_one(event)
    assert parsed.outcome == "denied"
    assert parsed.change == AccessChange("rbac", "kube-system/rbac.authorization.k8s.io/roles/backdoor")


def test_pod_exec_resource_string() -> None:
    event = audit_event(
        verb="create",
        requestURI="/api/v1/namespaces/payments/pods/web-1/exec?command=sh&container=web&stdin=true&tty=true",
        objectRef={
            "resource": "pods",
            "namespace": "payments",
            "name": "web-1",
            "apiVersion": "v1",
            "subresource": "exec",
        },
        responseStatus={"metadata": {}, "code": 101},
    )
    parsed = parse_one(event)
    assert parsed.resource == "payments/core/pods/exec/web-1"
    assert parsed.outcome == "success"
    assert parsed.change is None


def test_service_account_token_request_targets_the_account() -> None:
    event = audit_event(
        verb="create",
        objectRef={
            "resource": "serviceaccounts",
            "subresource": "token",
            "namespace": "production",
            "name": "persistence-sa",
            "apiVersion": "v1",
        },
        requestObject={"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": {}},
        responseStatus={"metadata": {}, "code": 201},
    )
    parsed = parse_one(event)
    assert parsed.resource == "production/core/serviceaccounts/token/persistence-sa"
    assert parsed.change == AccessChange("sa_token", "system:serviceaccount:production:persistence-sa")


def test_token_request_without_namespace_targets_the_resource() -> None:
    event = audit_event(verb="create", objectRef={"resource": "serviceaccounts", "subresource": "token"})
    assert parse_one(event).change == AccessChange("sa_token", "_cluster/core/serviceaccounts/token")


def test_service_account_token_secret_creation() -> None:
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": "deployer-token",
            "namespace": "ci",
            "annotations": {"kubernetes.io/service-account.name": "deployer"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    event = audit_event(
        verb="create",
        requestURI="/api/v1/namespaces/ci/secrets",
        objectRef={"resource": "secrets", "namespace": "ci", "apiVersion": "v1"},
        requestObject=secret,
        responseStatus={"metadata": {}, "code": 201},
    )
    parsed = parse_one(event)
    assert parsed.resource == "ci/core/secrets/deployer-token"
    assert parsed.change == AccessChange("sa_token", "system:serviceaccount:ci:deployer")


def test_opaque_secret_creation_is_not_a_change() -> None:
    event = audit_event(
        verb="create",
        objectRef={"resource": "secrets", "namespace": "ci", "apiVersion": "v1"},
        requestObject={"kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque"},
    )
    assert parse_one(event).change is None


@pytest.mark.parametrize(
    "resource", ["authorizationpolicies", "peerauthentications", "requestauthentications"]
)
def test_istio_security_policy_writes_are_mesh_policy_changes(resource: str) -> None:
    event = audit_event(
        verb="patch",
        requestURI=f"/apis/security.istio.io/v1/namespaces/payments/{resource}/default",
        objectRef={
            "resource": resource,
            "namespace": "payments",
            "name": "default",
            "apiGroup": "security.istio.io",
            "apiVersion": "v1",
        },
    )
    parsed = parse_one(event)
    assert parsed.change == AccessChange("mesh_policy", f"payments/security.istio.io/{resource}/default")


def test_list_has_no_trailing_slash_and_all_namespaces_is_cluster_scope() -> None:
    listed = parse_one(audit_event(verb="list", objectRef={"resource": "secrets", "namespace": "payments"}))
    assert listed.resource == "payments/core/secrets"
    everywhere = parse_one(audit_event(verb="list", objectRef={"resource": "secrets", "apiVersion": "v1"}))
    assert (everywhere.resource, everywhere.namespace, everywhere.boundary) == (
        "_cluster/core/secrets",
        None,
        "_cluster",
    )


def test_create_with_generate_name_has_no_name() -> None:
    event = audit_event(
        verb="create",
        objectRef={"resource": "pods", "namespace": "default"},
        requestObject={"kind": "Pod", "metadata": {"generateName": "web-"}},
    )
    assert parse_one(event).resource == "default/core/pods"


def test_request_object_name_is_used_only_for_create() -> None:
    event = audit_event(
        verb="patch",
        objectRef={"resource": "pods", "namespace": "default"},
        requestObject={"metadata": {"name": "from-the-body"}},
    )
    assert parse_one(event).resource == "default/core/pods"


def test_namespace_objects_are_cluster_scoped() -> None:
    # the API server copies the namespace's own name into objectRef.namespace on delete
    deleted = parse_one(
        audit_event(verb="delete", objectRef={"resource": "namespaces", "namespace": "foo", "name": "foo"})
    )
    created = parse_one(
        audit_event(
            verb="create",
            objectRef={"resource": "namespaces", "name": "foo", "apiVersion": "v1"},
        )
    )
    assert deleted.resource == created.resource == "_cluster/core/namespaces/foo"
    assert deleted.namespace is None
    assert deleted.boundary == "_cluster"


def test_missing_api_group_is_taken_from_the_request_uri() -> None:
    event = audit_event(
        requestURI="/apis/apps/v1/namespaces/web/deployments/frontend?fieldManager=kubectl",
        objectRef={"resource": "deployments", "namespace": "web", "name": "frontend"},
    )
    assert parse_one(event).resource == "web/apps/deployments/frontend"


@pytest.mark.parametrize(
    ("uri", "resource"),
    [
        ("/healthz?verbose=1", "_nonresource/healthz"),
        ("/api", "_nonresource/api"),
        ("/apis/apps/v1", "_nonresource/apis/apps/v1"),
        (None, "_nonresource"),
    ],
)
def test_non_resource_requests(uri: str | None, resource: str) -> None:
    event = audit_event(requestURI=uri, user={"username": "system:anonymous"})
    del event["objectRef"]
    parsed = parse_one(event)
    assert (parsed.resource, parsed.namespace, parsed.boundary) == (resource, None, "_cluster")


def test_empty_object_ref_resource_is_non_resource() -> None:
    event = audit_event(verb="propfind", objectRef={"resource": ""}, requestURI="/")
    assert parse_one(event).resource == "_nonresource/"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("RequestReceived", Skipped("k8s_stage_requestreceived")),
        ("ResponseStarted", Skipped("k8s_stage_responsestarted")),
    ],
)
def test_non_final_stages_are_skipped(stage: str, expected: Skipped) -> None:
    assert parse_all(audit_event(stage=stage)) == [expected]


@pytest.mark.parametrize("stage", ["ResponseComplete", "Panic"])
def test_final_stages_are_events(stage: str) -> None:
    assert isinstance(parse_all(audit_event(stage=stage))[0], NormalizedEvent)


def test_missing_stage_is_treated_as_complete() -> None:
    event = audit_event()
    del event["stage"]
    assert parse_one(event).event_id == "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11"


@pytest.mark.parametrize("stage", ["Completed", "", 3, ["ResponseComplete"]])
def test_unknown_stage_is_a_parse_error(stage: object) -> None:
    [item] = parse_all(audit_event(stage=stage))
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_bad_stage"


@pytest.mark.parametrize("api_version", [None, "audit.k8s.io/v1beta1", "audit.k8s.io/v1"])
def test_api_versions_accepted(api_version: str | None) -> None:
    event = audit_event()
    if api_version is None:
        del event["apiVersion"]
    else:
        event["apiVersion"] = api_version
    assert parse_one(event).resource == "payments/core/secrets/db-creds"


def test_core_event_objects_are_not_audit_events() -> None:
    # ``kubectl get events`` objects are also kind Event, but apiVersion v1
    core_event = {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "web-1.17f0c1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1"},
        "reason": "Scheduled",
        "message": "Successfully assigned default/web-1 to node-1",
    }
    [item] = parse_all(core_event)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_not_an_event"
    assert item.raw is core_event


@pytest.mark.parametrize("obj", [{"kind": 0}, {"kind": "Pod"}, {"message": "hello"}, [], "Event", 7, None])
def test_not_an_event(obj: object) -> None:
    items = parse_all(obj)
    assert all(isinstance(item, ParseError) and item.reason == "k8s_not_an_event" for item in items)
    assert len(items) == (0 if obj == [] else 1)


def test_missing_verb_is_a_parse_error() -> None:
    event = audit_event()
    del event["verb"]
    [item] = parse_all(event)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_missing_verb"


def test_time_fallbacks() -> None:
    event = audit_event()
    del event["stageTimestamp"]
    assert parse_one(event).time == datetime(2026, 2, 10, 8, 15, 30, 123456, tzinfo=UTC)
    del event["requestReceivedTimestamp"]
    event["timestamp"] = "2018-10-26T13:38:34Z"  # v1beta1
    assert parse_one(event).time == datetime(2018, 10, 26, 13, 38, 34, tzinfo=UTC)
    del event["timestamp"]
    event["metadata"] = {"creationTimestamp": "2017-09-11T19:55:05Z"}
    assert parse_one(event).time == datetime(2017, 9, 11, 19, 55, 5, tzinfo=UTC)


def test_missing_time_uses_received_or_is_a_parse_error() -> None:
    event = audit_event()
    del event["stageTimestamp"]
    del event["requestReceivedTimestamp"]
    [item] = parse_all(event)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_missing_time"
    assert parse_one(event, received=RECEIVED).time == RECEIVED


def test_unparseable_time_is_a_parse_error() -> None:
    [item] = parse_all(audit_event(stageTimestamp="yesterday"), received=RECEIVED)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_bad_time"


def test_time_with_an_offset_is_converted_to_utc() -> None:
    event = parse_one(audit_event(stageTimestamp="2026-02-10T10:15:30.5+02:00"))
    assert event.time == datetime(2026, 2, 10, 8, 15, 30, 500000, tzinfo=UTC)


def test_missing_audit_id_is_a_stable_hash_of_the_record() -> None:
    event = audit_event()
    del event["auditID"]
    first = parse_one(event).event_id
    reordered = dict(reversed(list(copy.deepcopy(event).items())))
    assert parse_one(reordered).event_id == first
    assert parse_one({**event, "verb": "list"}).event_id != first
    assert len(first) == 32


def test_event_list_with_one_bad_item() -> None:
    good = audit_event()
    forbidden = audit_event(
        auditID="e1f2a3b4-0000-4000-8000-000000000001",
        responseStatus={"metadata": {}, "reason": "Forbidden", "code": 403},
    )
    started = audit_event(stage="ResponseStarted")
    bad = {"kind": "Event", "stage": "ResponseComplete", "user": {"username": "bob"}}  # no verb
    event_list = {
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "metadata": {},
        "items": [good, "not an object", bad, forbidden, started],
    }
    items = parse_all(event_list, cluster="c1")
    assert [type(item).__name__ for item in items] == [
        "NormalizedEvent",
        "ParseError",
        "ParseError",
        "NormalizedEvent",
        "Skipped",
    ]
    assert isinstance(items[1], ParseError) and items[1].raw == "not an object"
    assert isinstance(items[2], ParseError) and items[2].raw is bad
    assert isinstance(items[3], NormalizedEvent) and items[3].outcome == "denied"
    assert all(item.cluster == "c1" for item in items if isinstance(item, NormalizedEvent))


def test_event_list_items_without_kind_are_events() -> None:
    item = audit_event()
    del item["kind"]
    del item["apiVersion"]
    assert (
        len([i for i in parse_all({"kind": "EventList", "items": [item]}) if isinstance(i, NormalizedEvent)])
        == 1
    )


def test_event_list_without_items_array() -> None:
    [item] = parse_all({"kind": "EventList", "items": {"a": 1}})
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_not_an_event"


def test_bare_array_of_events() -> None:
    items = parse_all([audit_event(), audit_event(stage="RequestReceived")])
    assert [type(item).__name__ for item in items] == ["NormalizedEvent", "Skipped"]


def aks_record(log: object, category: str = "kube-audit") -> dict[str, Any]:
    return {
        "category": category,
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": log, "stream": "stdout", "pod": "kube-apiserver-869d7bb754-kkg69"},
        "resourceId": "/SUBSCRIPTIONS/AE2861B3/RESOURCEGROUPS/TEST/PROVIDERS/MICROSOFT.CONTAINERSERVICE"
        "/MANAGEDCLUSTERS/TEST-CLUSTER",
        "time": "2026-02-10T08:15:30.131000000Z",
    }


def test_aks_envelope_with_the_event_as_an_object() -> None:
    parsed = parse_one(aks_record(audit_event(), category="kube-audit-admin"))
    assert parsed.resource == "payments/core/secrets/db-creds"


def test_aks_envelope_with_the_event_as_a_json_string() -> None:
    parsed = parse_one(aks_record(orjson.dumps(audit_event()).decode()))
    assert parsed.event_id == "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11"
    assert parsed.principal == "system:serviceaccount:payments:api"


def test_aks_envelope_with_a_broken_string() -> None:
    record = aks_record('{"kind":"Event","verb":')
    [item] = parse_all(record)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_invalid_json"
    assert item.raw is record


def test_aks_envelope_of_another_category_or_without_log() -> None:
    for record in (aks_record(audit_event(), category="kube-apiserver"), aks_record(None)):
        [item] = parse_all(record)
        assert isinstance(item, ParseError)
        assert item.reason == "k8s_not_an_event"


def test_azure_records_export_body() -> None:
    body = {
        "records": [aks_record(audit_event()), aks_record(orjson.dumps(audit_event(stage="Panic")).decode())]
    }
    items = parse_all(body)
    assert len(items) == 2
    assert all(isinstance(item, NormalizedEvent) for item in items)


def gke_entry(**payload_overrides: Any) -> dict[str, Any]:
    """A GKE Cloud Audit LogEntry for a Kubernetes API call (a service account reading a secret)."""
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": "system:serviceaccount:payments:api"},
        "authorizationInfo": [
            {
                "granted": True,
                "permission": "io.k8s.core.v1.secrets.get",
                "resource": "core/v1/namespaces/payments/secrets/db-creds",
            }
        ],
        "methodName": "io.k8s.core.v1.secrets.get",
        "requestMetadata": {
            "callerIp": "10.8.0.14",
            "callerSuppliedUserAgent": "payments-api/1.4.2 (linux/amd64) kubernetes/v1.30.2",
        },
        "resourceName": "core/v1/namespaces/payments/secrets/db-creds",
        "serviceName": "k8s.io",
        "status": {"code": 0},
    }
    payload.update(payload_overrides)
    return {
        "protoPayload": payload,
        "insertId": "8a6f1c2e-3d4b-4e5f-9a0b-1c2d3e4f5a6b",
        "resource": {
            "type": "k8s_cluster",
            "labels": {"cluster_name": "prod-gke", "location": "europe-west1", "project_id": "payments-prod"},
        },
        "timestamp": "2026-02-10T08:15:30.130981Z",
        "labels": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
        "logName": "projects/payments-prod/logs/cloudaudit.googleapis.com%2Fdata_access",
        "operation": {
            "id": "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11",
            "producer": "k8s.io",
            "first": True,
            "last": True,
        },
        "receiveTimestamp": "2026-02-10T08:15:31.005864307Z",
    }


def test_gke_secret_read() -> None:
    parsed = parse_one(gke_entry())
    assert parsed.event_id == "5d5c0b8e-2c59-4e7a-9c0e-0b6a3f0c2f11"
    assert parsed.principal == "system:serviceaccount:payments:api"
    assert parsed.principal_kind == K8S_SERVICE_ACCOUNT
    assert parsed.action == "get"
    assert parsed.resource == "payments/core/secrets/db-creds"
    assert parsed.namespace == "payments"
    assert parsed.outcome == "success"
    assert parsed.cluster == "prod-gke"  # from the entry's labels when not configured
    assert parsed.source_ip == "10.8.0.14"
    assert parsed.time == datetime(2026, 2, 10, 8, 15, 30, 130981, tzinfo=UTC)
    assert parse_one(gke_entry(), cluster="configured").cluster == "configured"


def test_gke_denied() -> None:
    entry = gke_entry(
        authorizationInfo=[
            {
                "granted": False,
                "permission": "io.k8s.core.v1.secrets.get",
                "resource": "core/v1/namespaces/payments/secrets/db-creds",
            }
        ],
        status={"code": 7, "message": "PERMISSION_DENIED"},
    )
    parsed = parse_one(entry)
    assert (parsed.outcome, parsed.error_code) == ("denied", "PERMISSION_DENIED")


def test_gke_not_found_is_an_error() -> None:
    parsed = parse_one(gke_entry(status={"code": 5, "message": 'secrets "db-creds" not found'}))
    assert (parsed.outcome, parsed.error_code) == ("error", 'secrets "db-creds" not found')


def test_gke_pod_exec_and_list() -> None:
    exec_entry = gke_entry(
        methodName="io.k8s.core.v1.pods.exec.create",
        resourceName="core/v1/namespaces/opa/pods/opa-57998cf7c5-bjkfk/exec",
    )
    assert parse_one(exec_entry).resource == "opa/core/pods/exec/opa-57998cf7c5-bjkfk"
    list_entry = gke_entry(
        methodName="io.k8s.core.v1.pods.list", resourceName="core/v1/namespaces/default/pods"
    )
    assert parse_one(list_entry).resource == "default/core/pods"
    namespace_entry = gke_entry(
        methodName="io.k8s.core.v1.namespaces.delete", resourceName="core/v1/namespaces/foo"
    )
    assert parse_one(namespace_entry).resource == "_cluster/core/namespaces/foo"


def test_gke_rbac_binding_creation_is_a_change() -> None:
    entry = gke_entry(
        methodName="io.k8s.authorization.rbac.v1.clusterrolebindings.create",
        resourceName="rbac.authorization.k8s.io/v1/clusterrolebindings/ci-admin",
        request={
            "@type": "rbac.authorization.k8s.io/v1.ClusterRoleBinding",
            "metadata": {"name": "ci-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
        },
    )
    parsed = parse_one(entry)
    assert parsed.action == "create"
    assert parsed.resource == "_cluster/rbac.authorization.k8s.io/clusterrolebindings/ci-admin"
    assert parsed.change == AccessChange("rbac", "system:serviceaccount:ci:deployer")


def test_gke_group_from_the_method_when_resource_name_is_missing() -> None:
    rbac = gke_entry(methodName="io.k8s.authorization.rbac.v1.roles.get", resourceName=None)
    assert parse_one(rbac).resource == "_cluster/rbac.authorization.k8s.io/roles"
    apps = gke_entry(methodName="io.k8s.apps.v1.deployments.list", resourceName=None)
    assert parse_one(apps).resource == "_cluster/apps/deployments"


def test_gke_long_running_request_start_is_skipped() -> None:
    entry = gke_entry(methodName="io.k8s.core.v1.pods.exec.create")
    entry["operation"]["last"] = False
    assert parse_all(entry) == [Skipped("k8s_stage_responsestarted")]


def test_gke_entry_of_another_service_is_not_an_event() -> None:
    entry = gke_entry(
        serviceName="container.googleapis.com", methodName="google.container.v1.ClusterManager.GetCluster"
    )
    [item] = parse_all(entry)
    assert isinstance(item, ParseError)
    assert item.reason == "k8s_not_an_event"
