"""CloudTrail parser: every corpus file, every container shape, and the actor/outcome mapping."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from enricher.core import events as ev
from enricher.core.events import IdentityLink, NormalizedEvent, Skipped
from enricher.core.parsers.cloudtrail import parse_cloudtrail
from enricher.errors import ParseError

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "cloudtrail"


def corpus_values(path: Path) -> list[Any]:
    """A corpus file as the decoded values a Kafka message would carry: one JSON value, or JSON lines."""
    data = path.read_bytes()
    try:
        return [orjson.loads(data)]
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def corpus_records() -> list[dict[str, Any]]:
    """Every CloudTrail record of the corpus (bare arrays flattened), digest included."""
    out: list[dict[str, Any]] = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file():
            for value in corpus_values(path):
                out.extend(value if isinstance(value, list) else [value])
    return out


def record(relative: str, index: int = 0) -> dict[str, Any]:
    """One record of a corpus file, as a fresh copy the test may change."""
    values = corpus_values(CORPUS / relative)
    flat = values[0] if len(values) == 1 and isinstance(values[0], list) else values
    return copy.deepcopy(flat[index])


def only_event(obj: object) -> NormalizedEvent:
    items = list(parse_cloudtrail(obj))
    assert len(items) == 1, items
    item = items[0]
    assert isinstance(item, NormalizedEvent), item
    return item


# -- the corpus -------------------------------------------------------------------------------

STRATUS = "stratus-red-team/aws."
# file -> (events, skipped, parse errors)
EXPECTED_COUNTS = {
    "elastic-integrations/test-assume-role-aws-service-json.log": (1, 0, 0),
    "elastic-integrations/test-assume-role-email-session-json.log": (1, 0, 0),
    "elastic-integrations/test-cloudtrail-digest-json.log": (0, 1, 0),
    "elastic-integrations/test-converse-json.log": (1, 0, 0),
    "elastic-integrations/test-us-gov-arn.log": (1, 0, 0),
    "elastic-integrations/test-user-authentication.log": (1, 0, 0),
    "otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json": (103, 0, 0),
    # two hand-trimmed Panther fixtures lack eventSource / eventTime: dead letters
    "panther-analysis/aws_cloudtrail_rules_tests_selected.jsonl": (99, 0, 2),
    STRATUS + "credential-access.ec2-get-password-data.json": (34, 0, 0),
    STRATUS + "credential-access.ec2-steal-instance-credentials.json": (45, 0, 0),
    STRATUS + "credential-access.secretsmanager-batch-retrieve-secrets.json": (5, 0, 0),
    STRATUS + "credential-access.secretsmanager-retrieve-secrets.json": (21, 0, 0),
    STRATUS + "credential-access.ssm-retrieve-securestring-parameters.json": (10, 0, 0),
    STRATUS + "defense-evasion.cloudtrail-delete.json": (1, 0, 0),
    STRATUS + "defense-evasion.cloudtrail-event-selectors.json": (1, 0, 0),
    STRATUS + "defense-evasion.cloudtrail-stop.json": (1, 0, 0),
    STRATUS + "defense-evasion.dns-delete-logs.json": (1, 0, 0),
    STRATUS + "defense-evasion.organizations-leave.json": (3, 0, 0),
    STRATUS + "defense-evasion.vpc-remove-flow-logs.json": (1, 0, 0),
    STRATUS + "discovery.ec2-download-user-data.json": (19, 0, 0),
    STRATUS + "execution.ec2-launch-unusual-instances.json": (3, 0, 0),
    STRATUS + "execution.ec2-user-data.json": (35, 0, 0),
    STRATUS + "execution.ssm-send-command.json": (56, 0, 0),
    STRATUS + "execution.ssm-start-session.json": (29, 0, 0),
    STRATUS + "exfiltration.ec2-security-group-open-port-22-ingress.json": (1, 0, 0),
    STRATUS + "exfiltration.ec2-share-ami.json": (1, 0, 0),
    STRATUS + "exfiltration.ec2-share-ebs-snapshot.json": (1, 0, 0),
    STRATUS + "exfiltration.rds-share-snapshot.json": (1, 0, 0),
    STRATUS + "impact.bedrock-invoke-model.json": (15, 0, 0),
    STRATUS + "initial-access.console-login-without-mfa.json": (1, 0, 0),
    STRATUS + "lateral-movement.ec2-instance-connect.json": (3, 0, 0),
    STRATUS + "lateral-movement.ec2-serial-console-send-ssh-public-key.json": (4, 0, 0),
    STRATUS + "persistence.iam-backdoor-role.json": (1, 0, 0),
    STRATUS + "persistence.iam-backdoor-user.json": (1, 0, 0),
    STRATUS + "persistence.iam-create-admin-user.json": (3, 0, 0),
    STRATUS + "persistence.iam-create-backdoor-role.json": (2, 0, 0),
    STRATUS + "persistence.iam-create-user-login-profile.json": (3, 0, 0),
    STRATUS + "persistence.lambda-backdoor-function.json": (1, 0, 0),
    STRATUS + "persistence.lambda-layer-extension.json": (1, 0, 0),
    STRATUS + "persistence.lambda-overwrite-code.json": (1, 0, 0),
    STRATUS + "persistence.rolesanywhere-create-trust-anchor.json": (2, 0, 0),
    STRATUS + "persistence.sts-federation-token.json": (2, 0, 0),
    STRATUS + "privilege-escalation.iam-update-user-login-profile.json": (1, 0, 0),
}


def test_the_expected_table_covers_every_corpus_file() -> None:
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()}
    assert on_disk == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("relative", sorted(EXPECTED_COUNTS))
def test_corpus_file_parses_to_the_expected_counts(relative: str) -> None:
    counts: Counter[str] = Counter()
    for value in corpus_values(CORPUS / relative):
        for item in parse_cloudtrail(value):
            counts[type(item).__name__] += 1
            if isinstance(item, NormalizedEvent):
                assert item.time.tzinfo is UTC
                assert item.action.count(":") >= 1 and item.resource
                assert item.outcome in ("success", "denied", "error")
            if isinstance(item, ParseError):
                assert item.reason in ("missing_field", "wrong_type", "bad_time") and item.raw is not None
    got = (counts["NormalizedEvent"], counts["Skipped"], counts["ParseError"])
    assert got == EXPECTED_COUNTS[relative]


def test_panther_dead_letters_name_the_missing_field() -> None:
    reasons = set()
    for value in corpus_values(CORPUS / "panther-analysis/aws_cloudtrail_rules_tests_selected.jsonl"):
        for item in parse_cloudtrail(value):
            if isinstance(item, ParseError):
                reasons.add((item.reason, item.detail))
    assert reasons == {("missing_field", "eventSource is missing"), ("missing_field", "eventTime is missing")}


# -- containers -------------------------------------------------------------------------------


def test_records_body_with_one_broken_record_still_parses_the_others() -> None:
    good = record("elastic-integrations/test-converse-json.log")
    no_time = record("elastic-integrations/test-us-gov-arn.log")
    del no_time["eventTime"]
    body = {"Records": [good, "not a record", no_time, record("elastic-integrations/test-us-gov-arn.log")]}
    items = list(parse_cloudtrail(body))
    assert [type(i).__name__ for i in items] == [
        "NormalizedEvent",
        "ParseError",
        "ParseError",
        "NormalizedEvent",
    ]
    broken_string, broken_record = items[1], items[2]
    assert isinstance(broken_string, ParseError) and broken_string.reason == "not_an_object"
    assert broken_string.raw == "not a record"
    assert isinstance(broken_record, ParseError) and broken_record.reason == "missing_field"
    assert broken_record.raw is no_time


def test_records_that_is_not_a_list_is_one_error() -> None:
    items = list(parse_cloudtrail({"Records": {"eventName": "GetObject"}}))
    assert len(items) == 1 and isinstance(items[0], ParseError) and items[0].reason == "wrong_type"


def test_bare_array_of_records() -> None:
    values = corpus_values(CORPUS / (STRATUS + "persistence.iam-create-admin-user.json"))
    items = list(parse_cloudtrail(values[0]))
    assert [i.action for i in items if isinstance(i, NormalizedEvent)] == [
        "iam:AttachUserPolicy",
        "iam:CreateAccessKey",
        "iam:CreateUser",
    ]


def test_eventbridge_envelope() -> None:
    detail = record("elastic-integrations/test-converse-json.log")
    envelope = {
        "version": "0",
        "id": "5f3c4b2a-8d1e-4f6a-9b7c-0e2d1a3b4c5d",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.bedrock",
        "account": "00000000000",
        "time": "2024-10-29T15:51:44Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    event = only_event(envelope)
    assert event.event_id == "3d67c35a-eef1-4d64-9620-77af8f372ae7"
    assert event.action == "bedrock:InvokeModel"  # Converse is authorized as InvokeModel
    assert list(parse_cloudtrail([envelope, envelope]))[1] == event


def test_eventbridge_envelope_of_another_kind_is_not_cloudtrail() -> None:
    envelope = {
        "version": "0",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "detail": {"instance-id": "i-0123456789abcdef0", "state": "running"},
    }
    (item,) = parse_cloudtrail(envelope)
    assert isinstance(item, ParseError) and item.reason == "not_cloudtrail"


def test_cloudwatch_logs_subscription_body() -> None:
    good = record("elastic-integrations/test-us-gov-arn.log")
    body = {
        "messageType": "DATA_MESSAGE",
        "owner": "111111111111",
        "logGroup": "aws-cloudtrail-logs-111111111111",
        "logStream": "111111111111_CloudTrail_us-gov-east-1",
        "subscriptionFilters": ["to-kafka"],
        "logEvents": [
            {"id": "1", "timestamp": 1767638786000, "message": orjson.dumps(good).decode()},
            {"id": "2", "timestamp": 1767638786000, "message": "{not json"},
        ],
    }
    first, second = parse_cloudtrail(body)
    assert isinstance(first, NormalizedEvent) and first.action == "ssm:UpdateInstanceInformation"
    assert isinstance(second, ParseError) and second.reason == "invalid_json"
    assert second.raw == body["logEvents"][1]
    control = {"messageType": "CONTROL_MESSAGE", "logEvents": [{"id": "", "message": "CWL CONTROL MESSAGE"}]}
    assert list(parse_cloudtrail(control)) == [Skipped("cloudwatch_control_message")]


def test_digest_file_is_skipped() -> None:
    digest = record("elastic-integrations/test-cloudtrail-digest-json.log")
    assert list(parse_cloudtrail(digest)) == [Skipped("cloudtrail_digest")]


def test_insight_event_is_skipped() -> None:
    insight = {
        "eventVersion": "1.07",
        "eventTime": "2019-11-14T00:51:00Z",
        "awsRegion": "us-east-1",
        "eventID": "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "123456789012",
        "sharedEventID": "EXAMPLE2-1729-42f1-b735-5d8c0EXAMPLE",
        "insightDetails": {
            "state": "Start",
            "eventSource": "ssm.amazonaws.com",
            "eventName": "UpdateInstanceAssociationStatus",
            "insightType": "ApiCallRateInsight",
        },
        "eventCategory": "Insight",
    }
    assert list(parse_cloudtrail(insight)) == [Skipped("cloudtrail_insight")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (42, "not_an_object"),
        ("eventName", "not_an_object"),
        (None, "not_an_object"),
        ({"kind": 0}, "not_cloudtrail"),
        ({"eventVersion": "1.08", "eventSource": "s3.amazonaws.com"}, "missing_field"),
    ],
)
def test_wrong_top_level_values_are_one_parse_error(value: object, reason: str) -> None:
    items = list(parse_cloudtrail(value))
    assert len(items) == 1 and isinstance(items[0], ParseError)
    assert items[0].reason == reason and items[0].raw == value


def test_field_problems_have_their_own_reasons() -> None:
    base = record("elastic-integrations/test-converse-json.log")
    cases = {
        "bad_time": {**base, "eventTime": "Oct 8, 2024, 4:15:32 PM"},
        "wrong_type": {**base, "eventName": 5},
        "missing_field": {**base, "eventSource": ""},
    }
    for reason, bad in cases.items():
        (item,) = parse_cloudtrail(bad)
        assert isinstance(item, ParseError) and item.reason == reason and item.raw is bad
    (item,) = parse_cloudtrail({**base, "userIdentity": ["AssumedRole"]})
    assert isinstance(item, ParseError) and item.reason == "wrong_type"


# -- the normalized fields --------------------------------------------------------------------


def test_converse_from_an_ec2_instance_role() -> None:
    event = only_event(record("elastic-integrations/test-converse-json.log"))
    assert event == NormalizedEvent(
        source="cloudtrail",
        system="aws",
        event_id="3d67c35a-eef1-4d64-9620-77af8f372ae7",
        time=datetime(2024, 10, 29, 15, 51, 44, tzinfo=UTC),
        principal="arn:aws:iam::00000000000:role/private-ec2-instance-role",
        principal_kind=ev.AWS_ROLE,
        raw_principal="arn:aws:sts::00000000000:assumed-role/private-ec2-instance-role/i-03cd6b2a7eb4bf3ae",
        action="bedrock:InvokeModel",
        resource="arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
        outcome="success",
        session="i-03cd6b2a7eb4bf3ae",
        session_key="ACCESSKEY",
        account="00000000000",
        region="us-east-1",
        source_ip="216.160.83.56",
        user_agent=event.user_agent,
        boundary="00000000000",
    )
    assert event.user_agent is not None and event.user_agent.startswith("Boto3/1.35.50")


def test_assumed_role_with_empty_session_issuer_derives_the_role_arn() -> None:
    rec = record("elastic-integrations/test-us-gov-arn.log")
    rec["userIdentity"]["sessionContext"]["sessionIssuer"] = {}
    event = only_event(rec)
    assert event.principal == "arn:aws-us-gov:iam::111111111111:role/ExampleRole"
    assert event.principal_kind == ev.AWS_ROLE
    assert event.session == "i-example1234567890"
    del rec["userIdentity"]["sessionContext"]
    assert only_event(rec).principal == "arn:aws-us-gov:iam::111111111111:role/ExampleRole"


def test_session_issuer_keeps_the_role_path() -> None:
    rec = record("elastic-integrations/test-us-gov-arn.log")
    issuer = rec["userIdentity"]["sessionContext"]["sessionIssuer"]
    issuer["arn"] = "arn:aws-us-gov:iam::111111111111:role/service-role/ExampleRole"
    assert only_event(rec).principal == "arn:aws-us-gov:iam::111111111111:role/service-role/ExampleRole"


def test_aws_us_gov_partition_reaches_derived_resources() -> None:
    event = only_event(record("elastic-integrations/test-us-gov-arn.log"))
    assert event.principal == "arn:aws-us-gov:iam::111111111111:role/ExampleRole"
    assert event.resource == "arn:aws-us-gov:ec2:us-gov-east-1:111111111111:instance/i-example1234567890"
    assert event.session_key == "ASIAEXAMPLE" and event.region == "us-gov-east-1"


def test_sso_role_session_is_human_sso() -> None:
    event = only_event(record("elastic-integrations/test-assume-role-email-session-json.log"))
    assert event.principal == "arn:aws:iam::111111111111:role/AWSReservedSSO_SecurityAudit_8df5ccd37b"
    assert event.principal_kind == ev.AWS_SSO
    assert event.session == "firstname.lastname@example.com"
    assert event.link == IdentityLink(
        role="arn:aws:iam::111111111111:role/JohnRole2",
        subject=None,
        session_keys=(
            "ASIAWHOJDLGPOEXAMPLE",
            "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_SecurityAudit_8df5ccd37b/firstname.lastname@example.com",
        ),
    )


def test_sso_role_with_the_reserved_path_is_sso() -> None:
    rec = record(STRATUS + "lateral-movement.ec2-serial-console-send-ssh-public-key.json")
    event = only_event(rec)
    assert event.principal_kind == ev.AWS_SSO
    assert "/aws-reserved/sso.amazonaws.com/AWSReservedSSO_account-admin_" in event.principal
    assert event.session == "randomca0L529zwNAY@gmail.com"  # from principalId: the anonymised ARN has no "/"


def test_iam_user_and_logstash_timestamp() -> None:
    first = record("otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json")
    assert "eventTime" not in first
    event = only_event(first)
    assert event.principal == "arn:aws:iam::123456789123:user/pedro"
    assert event.principal_kind == ev.AWS_USER
    assert event.time == datetime(2020, 9, 14, 0, 44, 23, tzinfo=UTC)  # from @timestamp
    assert event.session is None and event.session_key == "ASIA5FLZVX4OI4ZDQJOL"


def test_aws_service_caller() -> None:
    event = only_event(record("elastic-integrations/test-assume-role-aws-service-json.log"))
    assert (event.principal, event.principal_kind, event.raw_principal) == (
        "ec2.amazonaws.com",
        ev.AWS_SERVICE,
        "ec2.amazonaws.com",
    )
    assert event.resource == "arn:aws:iam::111111111111:role/ec2-instance-role"
    assert event.link is not None and event.link.session_keys == (
        "ASIAEXAMPLEEXAMPLE01",
        "arn:aws:sts::111111111111:assumed-role/ec2-instance-role/i-0123456789abcdef0",
    )


def test_identity_center_user() -> None:
    rec = record("elastic-integrations/test-user-authentication.log")
    rec["userIdentity"]["onBehalfOf"]["userId"] = "94482488-3041-7026-18f3-be45837cd0e4"
    event = only_event(rec)
    assert event.principal == "94482488-3041-7026-18f3-be45837cd0e4"
    assert event.principal_kind == ev.AWS_SSO
    assert event.session_key is None  # accessKeyId is ""
    assert event.action == "signin:UserAuthentication" and event.outcome == "success"
    rec["serviceEventDetails"]["UserAuthentication"] = "Failure"
    assert only_event(rec).outcome == "denied"


def test_root_caller() -> None:
    panther = corpus_values(CORPUS / "panther-analysis/aws_cloudtrail_rules_tests_selected.jsonl")
    root = next(r for r in panther if r.get("userIdentity", {}).get("type") == "Root")
    event = only_event(root)
    assert (event.principal, event.principal_kind) == ("arn:aws:iam::123456789012:root", ev.AWS_ROOT)


def test_federated_user_is_other() -> None:
    rec = record(STRATUS + "persistence.sts-federation-token.json", 1)
    event = only_event(rec)
    assert event.principal == "arn:aws:sts::742491224508:federated-user/stratus_red_team"
    assert event.principal_kind == ev.AWS_OTHER


IRSA = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "WebIdentityUser",
        "principalId": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/"
        "EXAMPLED539D4633E53DE1B71EXAMPLE:sts.amazonaws.com:system:serviceaccount:payments:api",
        "userName": "system:serviceaccount:payments:api",
        "identityProvider": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/"
        "EXAMPLED539D4633E53DE1B71EXAMPLE",
    },
    "eventTime": "2024-05-01T10:00:00Z",
    "eventSource": "sts.amazonaws.com",
    "eventName": "AssumeRoleWithWebIdentity",
    "awsRegion": "us-west-2",
    "sourceIPAddress": "192.0.2.10",
    "userAgent": "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.20 md/GOOS#linux md/GOARCH#amd64 api/sts#1.19.0",
    "requestParameters": {
        "roleArn": "arn:aws:iam::111122223333:role/payments-api",
        "roleSessionName": "1714557600000000000",
    },
    "responseElements": {
        "credentials": {
            "accessKeyId": "ASIAQNZGKIQY3EXAMPLE",
            "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "expiration": "May 1, 2024, 11:00:00 AM",
        },
        "subjectFromWebIdentityToken": "system:serviceaccount:payments:api",
        "assumedRoleUser": {
            "assumedRoleId": "AROAQNZGKIQYEXAMPLE:1714557600000000000",
            "arn": "arn:aws:sts::111122223333:assumed-role/payments-api/1714557600000000000",
        },
        "provider": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        "audience": "sts.amazonaws.com",
    },
    "requestID": "0e3b1d6c-54a0-4d3f-9d0f-3a6f2c1b5e7a",
    "eventID": "8f0b2c1e-2b8e-4a55-9f6a-8b1d2e3f4a5b",
    "readOnly": True,
    "resources": [
        {
            "accountId": "111122223333",
            "type": "AWS::IAM::Role",
            "ARN": "arn:aws:iam::111122223333:role/payments-api",
        }
    ],
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def test_irsa_assume_role_with_web_identity_links_the_service_account() -> None:
    event = only_event(copy.deepcopy(IRSA))
    assert event.principal == "system:serviceaccount:payments:api"
    assert event.principal_kind == ev.K8S_SERVICE_ACCOUNT
    assert event.action == "sts:AssumeRoleWithWebIdentity"
    assert event.resource == "arn:aws:iam::111122223333:role/payments-api"
    assert event.link == IdentityLink(
        role="arn:aws:iam::111122223333:role/payments-api",
        subject="system:serviceaccount:payments:api",
        session_keys=(
            "ASIAQNZGKIQY3EXAMPLE",
            "arn:aws:sts::111122223333:assumed-role/payments-api/1714557600000000000",
        ),
    )


def test_web_identity_that_is_not_a_service_account_is_other() -> None:
    github = copy.deepcopy(IRSA)
    subject = "repo:octo-org/payments:ref:refs/heads/main"
    github["userIdentity"]["userName"] = subject
    github["responseElements"]["subjectFromWebIdentityToken"] = subject
    event = only_event(github)
    assert (event.principal, event.principal_kind) == (subject, ev.AWS_OTHER)
    assert event.link is not None and event.link.subject == subject
    typo = copy.deepcopy(IRSA)
    typo["userIdentity"]["userName"] = "system:serviceaccount:payments"
    assert only_event(typo).principal_kind == ev.AWS_OTHER


# -- outcomes ---------------------------------------------------------------------------------


def test_console_login_failure_is_denied() -> None:
    rec = record(STRATUS + "initial-access.console-login-without-mfa.json")
    assert only_event(rec).outcome == "success"
    rec["responseElements"]["ConsoleLogin"] = "Failure"
    rec["errorMessage"] = "Failed authentication"
    event = only_event(rec)
    assert (event.action, event.outcome, event.error_code) == ("signin:ConsoleLogin", "denied", None)


def test_client_unauthorized_operation_is_denied() -> None:
    rec = record(STRATUS + "credential-access.ec2-get-password-data.json", 0)
    event = only_event(rec)
    assert (event.action, event.error_code, event.outcome) == (
        "ec2:GetPasswordData",
        "Client.UnauthorizedOperation",
        "denied",
    )


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        ("AccessDenied", None, "denied"),
        ("AccessDeniedException", None, "denied"),
        ("VpceAccessDenied", None, "denied"),
        ("UnauthorizedOperation", None, "denied"),
        ("AuthorizationError", None, "denied"),
        ("NoSuchEntity", "The role with name FooBar cannot be found.", "error"),
        ("Client.DryRunOperation", "Request would have succeeded, but DryRun flag is set.", "error"),
        ("ValidationException", "User: arn:aws:iam::1:user/x is not authorized to perform: a:B", "denied"),
    ],
)
def test_error_codes_and_messages(code: str, message: str | None, outcome: str) -> None:
    rec = record("elastic-integrations/test-converse-json.log")
    rec["errorCode"] = code
    if message is not None:
        rec["errorMessage"] = message
    event = only_event(rec)
    assert (event.outcome, event.error_code) == (outcome, code)


def test_event_id_falls_back_to_a_stable_hash() -> None:
    rec = record("elastic-integrations/test-converse-json.log")
    del rec["eventID"]
    first = only_event(rec).event_id
    reordered = dict(reversed(list(rec.items())))
    assert only_event(reordered).event_id == first
    assert len(first) == 32 and int(first, 16) >= 0
    rec["sourceIPAddress"] = "203.0.113.9"
    assert only_event(rec).event_id != first
