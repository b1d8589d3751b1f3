"""Kubernetes audit sample records (``audit.k8s.io/v1``): the cluster side of the scenario.

Log-backend lines (one Event each, a ``RequestReceived`` stage that is dropped before its
``ResponseComplete``), one webhook ``EventList``, impersonation, RBAC and token writes, forbidden
secret reads. Service-account users carry the ``extra`` fields a projected token gives them; the
CI pipeline is the Kubernetes user that EKS maps its IAM role to.
"""

from __future__ import annotations

from typing import Any, Final

from enricher.samples._scenario import PROD, TOOLS, Record, Round, sample

DECISION: Final = "authorization.k8s.io/decision"
WHY: Final = "authorization.k8s.io/reason"
FLUENT_BIT: Final = "fluent-bit/3.1.9"
ESO: Final = "external-secrets/v0.10.4 (linux/amd64) kubernetes/$Format"
ORDERS_AGENT: Final = "orders/1.42.0 (linux/amd64) kubernetes/client-go"
KUBECTL: Final = "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46"


def _sa(r: Round, namespace: str, name: str, pod: str, node: str) -> Record:
    """A service account user as the API server logs it for a projected (bound) token."""
    return {
        "username": f"system:serviceaccount:{namespace}:{name}",
        "uid": r.uid(f"sa:{namespace}:{name}"),
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        "extra": {
            "authentication.kubernetes.io/credential-id": [f"JTI={r.uid(f'jti:{namespace}:{name}')}"],
            "authentication.kubernetes.io/node-name": [node],
            "authentication.kubernetes.io/pod-name": [pod],
            "authentication.kubernetes.io/pod-uid": [r.uid(f"pod:{pod}")],
        },
    }


def _deployer(r: Round) -> Record:
    """The GitHub Actions role, mapped to the Kubernetes user ``github-actions-deploy`` by EKS."""
    return {
        "username": "github-actions-deploy",
        "uid": f"aws-iam-authenticator:{PROD}:AROAW4NQ8XK3GHADEPL9Y",
        "groups": ["deployers", "system:authenticated"],
        "extra": {
            "accessKeyId": [r.key("deployer")],
            "arn": [f"arn:aws:sts::{TOOLS}:assumed-role/github-actions-deploy/GitHubActions"],
            "canonicalArn": [f"arn:aws:iam::{TOOLS}:role/github-actions-deploy"],
            "principalId": ["AROAW4NQ8XK3GHADEPL9Y"],
            "sessionName": ["GitHubActions"],
        },
    }


def _orders(r: Round) -> Record:
    return _sa(r, "orders", "orders", "orders-6c8d9b7f4-kq2lp", "ip-10-42-3-17.ec2.internal")


def _fluent_bit(r: Round) -> Record:
    return _sa(r, "logging", "fluent-bit", "fluent-bit-7xq2d", "ip-10-42-7-31.ec2.internal")


def _external_secrets(r: Round) -> Record:
    return _sa(
        r,
        "external-secrets",
        "external-secrets",
        "external-secrets-6f8b9c7d5-m4n2p",
        "ip-10-42-1-8.ec2.internal",
    )


def _forbidden(verb: str, resource: str, name: str, namespace: str, user: str) -> Record:
    """The 403 status the API server returns (and logs) for an RBAC refusal."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f'{resource} "{name}" is forbidden: User "{user}" cannot {verb} resource "{resource}" '
            f'in API group "" in the namespace "{namespace}"'
        ),
        "reason": "Forbidden",
        "details": {"name": name, "kind": resource},
        "code": 403,
    }


def _event(
    r: Round,
    name: str,
    clock: str,
    verb: str,
    uri: str,
    user: Record,
    ref: Record,
    status: Record,
    ip: str,
    agent: str,
    **extra: Any,
) -> Record:
    """One audit Event; ``extra`` adds fields (impersonatedUser, requestObject ...) or overrides them.

    An RBAC refusal (code 403) gets the ``forbid`` decision annotation, anything else ``allow``.
    """
    code = status.get("code")
    event: Record = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": r.uid(name),
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": user,
        "sourceIPs": [ip],
        "userAgent": agent,
        "objectRef": ref,
        "responseStatus": status,
        "requestReceivedTimestamp": r.at(clock, 6),
        "stageTimestamp": r.at(clock, 6, after=0.0042),
        "annotations": {DECISION: "forbid" if code == 403 else "allow", WHY: extra.pop("why", "")},
    }
    event.update(extra)
    return event


def _orders_config(r: Round, stage: str) -> Record:
    name = "k8s-orders-config"  # both stages of one request share the audit id
    event = _event(
        r,
        name,
        "10:01:07.112",
        "get",
        "/api/v1/namespaces/orders/configmaps/orders-config",
        _orders(r),
        {"resource": "configmaps", "namespace": "orders", "name": "orders-config", "apiVersion": "v1"},
        {"metadata": {}, "code": 200},
        "10.42.3.17",
        ORDERS_AGENT,
        why='RBAC: allowed by RoleBinding "orders-config/orders" of Role "config-reader" to ServiceAccount '
        '"orders/orders"',
    )
    if stage == "RequestReceived":
        event["stage"] = stage
        event["stageTimestamp"] = event["requestReceivedTimestamp"]
        for key in ("responseStatus", "annotations"):
            del event[key]
    return event


@sample("k8s-orders-config-received", "k8s_audit")
def _orders_config_received(r: Round) -> Record:
    return _orders_config(r, "RequestReceived")


@sample("k8s-orders-config", "k8s_audit")
def _orders_config_complete(r: Round) -> Record:
    return _orders_config(r, "ResponseComplete")


@sample("k8s-webhook-batch", "k8s_audit")
def _webhook_batch(r: Round) -> Record:
    # The webhook backend posts EventLists; items carry no kind/apiVersion of their own.
    ok = {"metadata": {}, "code": 200}
    items = [
        _event(
            r,
            "k8s-webhook-batch:rollout",
            "10:00:41.530",
            "patch",
            "/apis/apps/v1/namespaces/payments/deployments/payments-api?fieldManager=kubectl-set",
            _deployer(r),
            {
                "resource": "deployments",
                "namespace": "payments",
                "name": "payments-api",
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            ok,
            "10.20.7.21",
            "kubectl/v1.30.4 (linux/amd64) kubernetes/b3d2d2b",
        ),
        _event(
            r,
            "k8s-webhook-batch:pod",
            "10:00:43.018",
            "get",
            "/api/v1/namespaces/orders/pods/orders-6c8d9b7f4-kq2lp",
            _fluent_bit(r),
            {"resource": "pods", "namespace": "orders", "name": "orders-6c8d9b7f4-kq2lp", "apiVersion": "v1"},
            ok,
            "10.42.7.31",
            FLUENT_BIT,
        ),
        _event(
            r,
            "k8s-webhook-batch:namespace",
            "10:00:43.020",
            "get",
            "/api/v1/namespaces/orders",
            _fluent_bit(r),
            {"resource": "namespaces", "namespace": "orders", "name": "orders", "apiVersion": "v1"},
            ok,
            "10.42.7.31",
            FLUENT_BIT,
        ),
    ]
    for item in items:
        del item["kind"], item["apiVersion"]
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}


@sample("k8s-impersonated-secret-list", "k8s_audit")
def _impersonated_list(r: Round) -> Record:
    # A platform admin impersonates the payments service account and lists its namespace's secrets:
    # the service account is the acting identity, the admin is recorded in `via`.
    admin = {"username": "alice@example.com", "groups": ["platform-admins", "system:authenticated"]}
    return _event(
        r,
        "k8s-impersonated-secret-list",
        "10:13:30.402",
        "list",
        "/api/v1/namespaces/payments/secrets?limit=500",
        admin,
        {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        {"metadata": {}, "code": 200},
        "203.0.113.24",
        KUBECTL,
        why='RBAC: allowed by RoleBinding "api-secrets/payments" of Role "secret-reader" to ServiceAccount '
        '"payments/api"',
        impersonatedUser={
            "username": "system:serviceaccount:payments:api",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"],
        },
    )


@sample("k8s-rolebinding-create", "k8s_audit")
def _rolebinding(r: Round) -> Record:
    # The deploy pipeline binds the `edit` ClusterRole to the payments service account.
    binding: Record = {
        "kind": "RoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "payments-api-edit", "namespace": "payments"},
        "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": "payments"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
    }
    return _event(
        r,
        "k8s-rolebinding-create",
        "10:11:58.771",
        "create",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings?fieldManager=kubectl-create",
        _deployer(r),
        {
            "resource": "rolebindings",
            "namespace": "payments",
            "name": "payments-api-edit",
            "apiGroup": "rbac.authorization.k8s.io",
            "apiVersion": "v1",
        },
        {"metadata": {}, "code": 201},
        "10.20.7.21",
        "kubectl/v1.30.4 (linux/amd64) kubernetes/b3d2d2b",
        level="RequestResponse",
        requestObject=binding,
        responseObject={**binding, "metadata": {**binding["metadata"], "uid": r.uid("rb-uid")}},
        why='RBAC: allowed by ClusterRoleBinding "deployers-admin" of ClusterRole "cluster-admin" to Group '
        '"deployers"',
    )


@sample("k8s-token-secret-create", "k8s_audit")
def _token_secret(r: Round) -> Record:
    # External Secrets writes a long-lived token Secret for the payments service account. It may
    # create Secrets in `payments`, so the actor is entitled, but the access model still changed.
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": "api-token",
            "namespace": "payments",
            "annotations": {"kubernetes.io/service-account.name": "api"},
            "labels": {"reconcile.external-secrets.io/managed": "true"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    return _event(
        r,
        "k8s-token-secret-create",
        "10:06:12.330",
        "create",
        "/api/v1/namespaces/payments/secrets",
        _external_secrets(r),
        {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        {"metadata": {}, "code": 201},
        "10.42.1.8",
        ESO,
        level="Request",
        requestObject=secret,
    )


@sample("k8s-forbidden-secret-read", "k8s_audit")
def _forbidden_read(r: Round) -> Record:
    # Fluent Bit may read pod and namespace metadata anywhere; it tries a kube-system Secret.
    user = _fluent_bit(r)
    return _event(
        r,
        "k8s-forbidden-secret-read",
        "10:17:45.006",
        "get",
        "/api/v1/namespaces/kube-system/secrets/aws-load-balancer-webhook-tls",
        user,
        {
            "resource": "secrets",
            "namespace": "kube-system",
            "name": "aws-load-balancer-webhook-tls",
            "apiVersion": "v1",
        },
        _forbidden("get", "secrets", "aws-load-balancer-webhook-tls", "kube-system", user["username"]),
        "10.42.7.31",
        FLUENT_BIT,
    )


@sample("k8s-external-secrets-update-denied", "k8s_audit")
def _eso_denied(r: Round) -> Record:
    # Approved to update Secrets in `payments`, refused by RBAC: the Role binding went missing.
    user = _external_secrets(r)
    return _event(
        r,
        "k8s-external-secrets-update-denied",
        "10:06:40.219",
        "update",
        "/api/v1/namespaces/payments/secrets/payments-db",
        user,
        {"resource": "secrets", "namespace": "payments", "name": "payments-db", "apiVersion": "v1"},
        _forbidden("update", "secrets", "payments-db", "payments", user["username"]),
        "10.42.1.8",
        ESO,
    )


@sample("k8s-orders-reads-payments-secret", "k8s_audit")
def _orders_cross_namespace(r: Round) -> Record:
    # The orders service reaches into the payments namespace, where it holds nothing.
    user = _orders(r)
    return _event(
        r,
        "k8s-orders-reads-payments-secret",
        "10:18:02.650",
        "get",
        "/api/v1/namespaces/payments/secrets/payments-db",
        user,
        {"resource": "secrets", "namespace": "payments", "name": "payments-db", "apiVersion": "v1"},
        _forbidden("get", "secrets", "payments-db", "payments", user["username"]),
        "10.42.3.17",
        ORDERS_AGENT,
    )


@sample("k8s-shadow-service-account", "k8s_audit")
def _shadow_sa(r: Round) -> Record:
    # A debug pod's service account that no identity lists reads the payments secrets.
    return _event(
        r,
        "k8s-shadow-service-account",
        "10:19:21.884",
        "list",
        "/api/v1/namespaces/payments/secrets",
        _sa(r, "payments", "debug-shell", "debug-shell", "ip-10-42-3-40.ec2.internal"),
        {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        {"metadata": {}, "code": 200},
        "10.42.3.40",
        "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        why='RBAC: allowed by RoleBinding "debug/payments" of ClusterRole "view" to ServiceAccount '
        '"payments/debug-shell"',
    )
