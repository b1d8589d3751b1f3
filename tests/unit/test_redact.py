"""Secret redaction: Kubernetes Secrets, credential keys, tokens and keys inside text, on the corpus."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.core.redact import MAX_DEPTH, REDACTED, SECRET_KEYS, redact, redact_text

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def corpus_values(path: Path) -> list[Any]:
    """One JSON value (CloudTrail bare arrays are flattened), JSON lines, or text lines."""
    data = path.read_bytes()
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        values: list[Any] = []
        for line in data.splitlines():
            if line.strip():
                try:
                    values.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    values.append(line.decode())
        return values
    return value if isinstance(value, list) else [value]


def corpus_records(source: str) -> list[Any]:
    paths = sorted(
        p for p in (CORPUS / source).rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log")
    )
    return [value for path in paths for value in corpus_values(path)]


def falco(name: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for line in (CORPUS / "k8s_audit" / "falco" / name).read_bytes().splitlines()
        if line
    ]


def dumped(obj: object) -> str:
    return orjson.dumps(obj).decode()


# --- Kubernetes Secrets -------------------------------------------------------------------------


def test_secret_create_at_request_response_level() -> None:
    # falco create_secret is logged at Metadata level; here the same request with its bodies, as
    # a RequestResponse policy logs it
    [event] = falco("create_secret.json")
    event["level"] = "RequestResponse"
    event["requestObject"] = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": "example-secret",
            "namespace": "default",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"v1","data":{"password":'
                '"aHVudGVyMg=="},"kind":"Secret","metadata":{"annotations":{},"name":"example-secret",'
                '"namespace":"default"},"type":"Opaque"}\n'
            },
        },
        "data": {"password": "aHVudGVyMg==", "username": "YWRtaW4="},
        "stringData": {"api-url": "https://user:pw@example.com"},
        "type": "Opaque",
    }
    event["responseObject"] = {**event["requestObject"], "metadata": {"name": "example-secret", "uid": "u1"}}
    original = copy.deepcopy(event)
    cleaned = redact(event)
    assert event == original  # the input is never modified
    assert isinstance(cleaned, dict)
    assert cleaned["requestObject"]["data"] == {"password": REDACTED, "username": REDACTED}
    assert cleaned["requestObject"]["stringData"] == {"api-url": REDACTED}
    assert cleaned["responseObject"]["data"] == {"password": REDACTED, "username": REDACTED}
    annotation = cleaned["requestObject"]["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert orjson.loads(annotation)["data"] == {"password": REDACTED}
    text = dumped(cleaned)
    for secret in ("aHVudGVyMg==", "YWRtaW4=", "user:pw@"):
        assert secret not in text
    # everything else is untouched
    assert cleaned["objectRef"] == original["objectRef"]
    assert cleaned["requestObject"]["metadata"]["name"] == "example-secret"
    assert cleaned["requestObject"]["type"] == "Opaque"


@pytest.mark.parametrize(
    "name",
    [
        "create_secret.json",
        "create_kube_system_secret.json",
        "create_service_account_token_secret.json",
        "delete_secret.json",
    ],
)
def test_metadata_level_secret_events_have_nothing_to_redact(name: str) -> None:
    [event] = falco(name)
    assert redact(event) is event  # unchanged records come back as they are, without a copy


def test_service_account_token_secret_with_its_token() -> None:
    [event] = falco("create_service_account_token_secret.json")
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2ln"
    event["responseObject"] = {
        "kind": "Secret",
        "metadata": {
            "name": "default-token-7v4pb",
            "annotations": {"kubernetes.io/service-account.name": "default"},
        },
        "type": "kubernetes.io/service-account-token",
        "data": {"ca.crt": "LS0tLS1CRUdJTi...", "namespace": "dGVzdDI=", "token": "ZXlKaGJHY2lPaUpT"},
    }
    event["requestObject"] = {"kind": "Secret", "stringData": {"token": token}}
    cleaned = redact(event)
    assert isinstance(cleaned, dict)
    assert cleaned["responseObject"]["data"] == {"ca.crt": REDACTED, "namespace": REDACTED, "token": REDACTED}
    assert cleaned["requestObject"]["stringData"] == {"token": REDACTED}
    assert cleaned["responseObject"]["metadata"] == event["responseObject"]["metadata"]
    assert token not in dumped(cleaned)


def test_secret_list_and_patches_on_the_secrets_resource() -> None:
    listed = {
        "kind": "Event",
        "verb": "list",
        "objectRef": {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        "responseObject": {
            "kind": "SecretList",
            "apiVersion": "v1",
            "items": [
                {"metadata": {"name": "a"}, "data": {"k": "djE="}},
                {"metadata": {"name": "b"}, "data": {"k": "djI="}},
            ],
        },
    }
    cleaned = redact(listed)
    assert isinstance(cleaned, dict)
    assert [item["data"] for item in cleaned["responseObject"]["items"]] == [{"k": REDACTED}, {"k": REDACTED}]
    assert [item["metadata"]["name"] for item in cleaned["responseObject"]["items"]] == ["a", "b"]

    merge_patch = {
        "kind": "Event",
        "verb": "patch",
        "objectRef": {"resource": "secrets"},
        "requestObject": {"data": {"k": "djM="}},
    }
    assert redact(merge_patch)["requestObject"] == {"data": {"k": REDACTED}}

    json_patch = {
        "kind": "Event",
        "verb": "patch",
        "objectRef": {"resource": "secrets"},
        "requestObject": [
            {"op": "replace", "path": "/data/k", "value": "djQ="},
            {"op": "add", "path": "/metadata/labels/team", "value": "payments"},
        ],
    }
    assert redact(json_patch)["requestObject"] == [
        {"op": "replace", "path": "/data/k", "value": REDACTED},
        {"op": "add", "path": "/metadata/labels/team", "value": "payments"},
    ]


def test_configmap_data_is_kept_but_credentials_inside_it_are_not() -> None:
    events = falco("create_configmap_sensitive_values.json")
    assert len(events) == 6
    for event in events:
        cleaned = redact(event)
        assert isinstance(cleaned, dict)
        for body in ("requestObject", "responseObject"):
            properties = cleaned[body]["data"]["access.properties"]
            assert "aws_secret_access_key = [REDACTED]" in properties
            assert "MY-KEY" not in properties
            assert cleaned[body]["data"]["ui.properties"] == event[body]["data"]["ui.properties"]
    # the access key *id* stays: it identifies, it does not authenticate
    assert "aws_access_key_id = MY-ID" in redact(events[0])["requestObject"]["data"]["access.properties"]
    # the one with a plain "password = " line loses its value too
    assert any("password = [REDACTED]" in dumped(redact(event)) for event in events)


@pytest.mark.parametrize(
    "name",
    ["create_configmap.json", "create_configmap_no_sensitive_values.json", "attach_cluster_admin_role.json"],
)
def test_request_response_events_without_secrets_are_unchanged(name: str) -> None:
    [event] = falco(name)
    assert redact(event) is event


def test_aks_string_log_is_redacted_inside() -> None:
    inner = {
        "kind": "Event",
        "verb": "create",
        "objectRef": {"resource": "secrets", "namespace": "kube-system"},
        "requestObject": {"kind": "Secret", "data": {"key": "c2VjcmV0"}},
    }
    record = {"category": "kube-audit", "properties": {"log": dumped(inner)}}
    cleaned = redact(record)
    assert isinstance(cleaned, dict)
    assert orjson.loads(cleaned["properties"]["log"])["requestObject"]["data"] == {"key": REDACTED}


def test_gke_secret_payloads() -> None:
    entry = {
        "protoPayload": {
            "methodName": "io.k8s.core.v1.secrets.create",
            "resourceName": "core/v1/namespaces/ci/secrets/deploy-key",
            "request": {"@type": "core.k8s.io/v1.Secret", "data": {"id_rsa": "LS0tLS1CRUdJTg=="}},
            "response": {"@type": "core.k8s.io/v1.Secret", "data": {"id_rsa": "LS0tLS1CRUdJTg=="}},
        }
    }
    cleaned = redact(entry)
    assert "LS0tLS1CRUdJTg==" not in dumped(cleaned)


# --- credential keys (CloudTrail and others) -----------------------------------------------------


def cloudtrail_with_credentials() -> list[dict[str, Any]]:
    found = []
    for record in corpus_records("cloudtrail"):
        elements = record.get("responseElements") if isinstance(record, dict) else None
        if isinstance(elements, dict) and isinstance(elements.get("credentials"), dict):
            found.append(record)
    return found


def test_cloudtrail_credentials_in_the_corpus() -> None:
    records = cloudtrail_with_credentials()
    assert len(records) == 22
    for record in records:
        original = copy.deepcopy(record)
        cleaned = redact(record)
        assert record == original
        assert isinstance(cleaned, dict)
        credentials = cleaned["responseElements"]["credentials"]
        assert credentials["sessionToken"] == REDACTED
        assert credentials["accessKeyId"] == original["responseElements"]["credentials"]["accessKeyId"]
        assert credentials.get("expiration") == original["responseElements"]["credentials"].get("expiration")
        token = original["responseElements"]["credentials"]["sessionToken"]
        if len(token) > 20:  # Panther's fake "1111" also occurs in its account ids
            assert token not in dumped(cleaned)
        # nothing outside the credentials changed
        cleaned_rest = {k: v for k, v in cleaned.items() if k != "responseElements"}
        assert cleaned_rest == {k: v for k, v in original.items() if k != "responseElements"}


def test_corpus_records_without_secrets_come_back_untouched() -> None:
    untouched = 0
    for source in ("cloudtrail", "k8s_audit", "mesh"):
        for record in corpus_records(source):
            if isinstance(record, str):
                assert redact_text(record) == record  # no mesh line carries a credential
                continue
            cleaned = redact(record)
            if cleaned is record:
                untouched += 1
            else:
                assert cleaned != record
    assert untouched > 600


def test_secrets_manager_arns_are_not_mistaken_for_assignments() -> None:
    arn = "arn:aws:secretsmanager:us-west-2:123123123123:secret:stratus-red-team-retrieve-secret-0-a1b2c3"
    record = {"eventName": "GetSecretValue", "requestParameters": {"secretId": arn}}
    assert redact(record) is record


@pytest.mark.parametrize(
    "key",
    [
        "secretAccessKey",
        "SessionToken",
        "password",
        "PASSWD",
        "token",
        "client_secret",
        "privateKey",
        "private_key",
        "Authorization",
    ],
)
def test_secret_keys_any_case(key: str) -> None:
    record = {"outer": {key: "s3cr3t-value", "keep": "visible"}, "list": [{key: {"nested": 1}}]}
    cleaned = redact(record)
    assert cleaned == {"outer": {key: REDACTED, "keep": "visible"}, "list": [{key: REDACTED}]}
    assert key.lower() in SECRET_KEYS


def test_keys_are_matched_exactly() -> None:
    record = {
        "tokenExpiry": "2026-01-01",
        "passwordLastUsed": "2026-01-01",
        "accessKeyId": "ASIAEXAMPLE",
        "token": None,
        "password": "",
    }
    assert redact(record) is record


def test_http_headers() -> None:
    headers = {"authorization": "Bearer abc.def.ghi", "Cookie": "session=1", "x-request-id": "r1"}
    assert redact({"headers": headers}) == {
        "headers": {"authorization": REDACTED, "Cookie": REDACTED, "x-request-id": "r1"}
    }


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api Authorization: Bearer abc.def-ghi==", "GET /api Authorization: Bearer [REDACTED]"),
        (
            "curl -H 'Authorization: Basic dXNlcjpwYXNz' https://x",
            "curl -H 'Authorization: Basic [REDACTED]' https://x",
        ),
        ("/api/v1/pods?watch=1&access_token=abcd&x=1", "/api/v1/pods?watch=1&access_token=[REDACTED]&x=1"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
        ("DB_PASSWORD=hunter2 ./run", "DB_PASSWORD=[REDACTED] ./run"),
        ("client_secret: abc123", "client_secret: [REDACTED]"),
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nend",
            "key:\n[REDACTED]\nend",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt (cut short)", "[REDACTED]"),
        ("jwt=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.sig-nature_1 ok", "jwt=[REDACTED] ok"),
        ("kube-controller-manager/v1.17.3 (linux/amd64) kubernetes/06ad960/tokens-controller", None),
        ("system:serviceaccount:kube-system:token-cleaner", None),
        ('secrets "db-password" is forbidden', None),
        ("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----", None),
        ("arn:aws:secretsmanager:us-east-1:1:secret:prod/db", None),
    ],
)
def test_redact_text(text: str, expected: str | None) -> None:
    assert redact_text(text) == (text if expected is None else expected)


def test_strings_inside_json_are_scrubbed() -> None:
    record = {"requestURI": "/apis/x?token=abc", "message": "sent Bearer zzz to upstream"}
    assert redact(record) == {
        "requestURI": "/apis/x?token=[REDACTED]",
        "message": "sent Bearer [REDACTED] to upstream",
    }


# --- robustness ----------------------------------------------------------------------------------


def test_nesting_beyond_max_depth_is_replaced() -> None:
    deep: Any = "leaf"
    for _ in range(5_000):
        deep = [deep]
    cleaned = redact({"a": deep})
    text = orjson.dumps(cleaned)  # encodable again
    assert REDACTED.encode() in text
    assert text.count(b"[") <= MAX_DEPTH + 2


def test_big_ints_and_surrogates_fall_back_to_the_walk() -> None:
    record = {"n": 10**30, "password": "x", "s": "\ud800"}
    assert redact(record) == {"n": 10**30, "password": REDACTED, "s": "\ud800"}


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
keys = st.text(max_size=10) | st.sampled_from(
    ["data", "stringData", "kind", "objectRef", "token", "items", "path", "value"]
)
json_values = st.recursive(
    scalars | st.sampled_from(["Secret", "SecretList", "secrets", "Bearer abc", '{"token": "x"}', "/data/x"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_redact_never_raises_or_mutates_and_is_idempotent(value: object) -> None:
    before = copy.deepcopy(value)
    cleaned = redact(value)
    assert value == before
    assert redact(cleaned) == cleaned
    if isinstance(value, str):
        assert redact_text(redact_text(value)) == redact_text(value)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_redact_text_never_raises(text: str) -> None:
    assert isinstance(redact_text(text), str)
