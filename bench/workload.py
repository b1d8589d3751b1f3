"""Corpus-shaped synthetic input for the benchmarks: raw records that exercise every rule.

The mix is 60% CloudTrail records, 25% Kubernetes audit events and 15% mesh access-log lines
(Istio JSON), shaped like the real samples in the shared corpus (same field sets, similar sizes).
Events are drawn from a generated baseline so that most of them match an entitlement, as in a
healthy production stream, with a realistic share of overprivileged, denied, unknown-identity and
cross-boundary events. Records are produced deterministically from ``seed``.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from enricher.core.model import BaselineDocument, Entitlement, Identity

START = datetime(2026, 3, 1, tzinfo=UTC)
UA_AWS = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2"
UA_K8S = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"


def _concrete(pattern: str, rnd: random.Random) -> str:
    """A concrete string a pattern matches (``*`` -> a path-like segment, ``?`` -> a letter)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern
    out = pattern.replace("?", "a")
    while "*" in out:
        out = out.replace("*", f"obj{rnd.randrange(10_000)}", 1)
    return out


def _concrete_action(action: str, rnd: random.Random) -> str:
    return action.replace("*", "Instances") if "*" in action else action


def _ct_record(
    ident: Identity,
    acct: str,
    action: str,
    resource: str,
    when: datetime,
    denied: bool,
    principal: str | None,
    rnd: random.Random,
) -> dict[str, object]:
    service, _, name = action.partition(":")
    role = principal or next(a for a in ident.aliases if a.startswith("arn:"))
    role_name = role.rsplit("/", 1)[-1]
    session = f"i-{rnd.getrandbits(40):010x}"
    rec: dict[str, object] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{rnd.getrandbits(60):015X}:{session}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{role_name}/{session}",
            "accountId": acct,
            "accessKeyId": f"ASIA{rnd.getrandbits(60):016X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rnd.getrandbits(60):015X}",
                    "arn": role,
                    "accountId": acct,
                    "userName": role_name,
                },
                "attributes": {
                    "creationDate": (when - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "mfaAuthenticated": "false",
                },
                "ec2RoleDelivery": "2.0",
            },
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
        "userAgent": UA_AWS,
        "requestParameters": {"resourceArn": resource},
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rnd.getrandbits(128))).upper(),
        "eventID": str(uuid.UUID(int=rnd.getrandbits(128))),
        "readOnly": True,
        "resources": [{"accountId": acct, "type": "AWS::Resource", "ARN": resource}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": acct,
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service}.us-east-1.amazonaws.com",
        },
    }
    if denied:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = f"User: {rec['userIdentity']['arn']} is not authorized to perform: {action}"  # type: ignore[index]
    return rec


def _k8s_record(
    ident: Identity,
    verb: str,
    resource: str,
    when: datetime,
    denied: bool,
    principal: str | None,
    rnd: random.Random,
) -> dict[str, object]:
    ns, group, kind, *rest = resource.split("/")
    name = rest[-1] if rest else ""
    sa = principal or next(a for a in ident.aliases if a.startswith("system:serviceaccount:"))
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    object_ref: dict[str, object] = {"resource": kind, "name": name, "apiVersion": "v1"}
    if ns != "_cluster":
        object_ref["namespace"] = ns
    if group != "core":
        object_ref["apiGroup"] = group
    code = 403 if denied else 200
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": str(uuid.UUID(int=rnd.getrandbits(128))),
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/{ns}/{kind}/{name}",
        "verb": verb,
        "user": {
            "username": sa,
            "uid": str(uuid.UUID(int=rnd.getrandbits(128))),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
        },
        "sourceIPs": [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"],
        "userAgent": UA_K8S,
        "objectRef": object_ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": stamp,
        "stageTimestamp": stamp,
        "annotations": {
            "authorization.k8s.io/decision": "forbid" if denied else "allow",
            "authorization.k8s.io/reason": ""
            if denied
            else f'RBAC: allowed by RoleBinding "{ident.id}/{ns}" of Role "{ident.id}" to ServiceAccount',
        },
    }


def _mesh_record(
    ident: Identity,
    method: str,
    resource: str,
    when: datetime,
    denied: bool,
    principal: str | None,
    rnd: random.Random,
) -> dict[str, object]:
    host, _, path = resource.partition("/")
    spiffe = principal or next(a for a in ident.aliases if a.startswith("spiffe://"))
    return {
        "start_time": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "method": method if method != "TCP" else None,
        "path": "/" + path if method != "TCP" else None,
        "protocol": "HTTP/1.1" if method != "TCP" else None,
        "response_code": 403 if denied else 200,
        "response_flags": "-",
        "response_code_details": "rbac_access_denied_matched_policy[none]" if denied else "via_upstream",
        "connection_termination_details": None,
        "upstream_transport_failure_reason": None,
        "bytes_received": 0,
        "bytes_sent": rnd.randrange(100, 5000),
        "duration": rnd.randrange(1, 80),
        "upstream_service_time": str(rnd.randrange(1, 60)),
        "x_forwarded_for": None,
        "user_agent": "Go-http-client/1.1",
        "request_id": str(uuid.UUID(int=rnd.getrandbits(128))),
        "authority": f"{host}:8080",
        "upstream_host": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.7:8080",
        "upstream_cluster": "inbound|8080||",
        "upstream_local_address": "127.0.0.6:41231",
        "downstream_local_address": f"10.{rnd.randrange(256)}.3.7:8080",
        "downstream_remote_address": f"10.{rnd.randrange(256)}.9.4:53112",
        "requested_server_name": f"outbound_.8080_._.{host}",
        "route_name": "default",
        "downstream_peer_uri_san": spiffe,
    }


def _pick(rnd: random.Random, ident: Identity, system: str) -> Entitlement | None:
    ents = [e for e in ident.entitlements if e.system == system]
    return rnd.choice(ents) if ents else None


def generate_records(doc: BaselineDocument, count: int, seed: int = 1) -> list[bytes]:
    """``count`` raw records (JSON bytes) in the 60/25/15 mix; about 80% judged ``expected``."""
    rnd = random.Random(seed)
    by_system: dict[str, list[Identity]] = {"aws": [], "k8s": [], "mesh": []}
    for ident in doc.identities:
        systems = {e.system for e in ident.entitlements}
        for system in systems:
            by_system[system].append(ident)
    out: list[bytes] = []
    for i in range(count):
        roll = rnd.random()
        system = "aws" if roll < 0.60 else ("k8s" if roll < 0.85 else "mesh")
        out.append(orjson.dumps(_one(rnd, by_system[system], system, START + timedelta(milliseconds=37 * i))))
    return out


def _one(rnd: random.Random, idents: list[Identity], system: str, when: datetime) -> dict[str, object]:
    ident = rnd.choice(idents)
    ent = _pick(rnd, ident, system)
    assert ent is not None
    action = _concrete_action(rnd.choice(ent.actions), rnd)
    resource = _concrete(rnd.choice(ent.resources), rnd)
    twist = rnd.random()
    denied = 0.80 <= twist < 0.86
    principal = None
    if 0.86 <= twist < 0.93:  # something the baseline does not approve
        action = {"aws": "s3:DeleteBucket", "k8s": "delete", "mesh": "DELETE"}[system]
    elif twist >= 0.97:  # a shadow identity
        principal = {
            "aws": "arn:aws:iam::123456789012:role/shadow-" + str(rnd.randrange(50)),
            "k8s": f"system:serviceaccount:tmp:shadow-{rnd.randrange(50)}",
            "mesh": f"spiffe://cluster.local/ns/tmp/sa/shadow-{rnd.randrange(50)}",
        }[system]
    if system == "aws":
        home = next(a for a in ident.aliases if a.startswith("arn:")).split(":")[4]
        parts = resource.split(":")
        acct = parts[4] if len(parts) > 4 and parts[4] else home
        return _ct_record(
            ident,
            acct,
            action,
            resource if resource != "*" else "arn:aws:ec2:us-east-1:" + acct + ":instance/i-0abc",
            when,
            denied,
            principal,
            rnd,
        )
    if system == "k8s":
        return _k8s_record(ident, action, resource, when, denied, principal, rnd)
    return _mesh_record(ident, action, resource, when, denied, principal, rnd)
