"""CloudTrail action names, resource ARNs, access-model changes and role links."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from enricher.core.events import AccessChange, NormalizedEvent
from enricher.core.parsers import aws_actions
from enricher.core.parsers.aws_actions import iam_action, lookup
from enricher.core.parsers.cloudtrail import parse_cloudtrail
from tests.unit.parsers.test_cloudtrail import STRATUS, only_event, record


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
        ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
        ("s3.amazonaws.com", "HeadBucket", "s3:ListBucket"),
        ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
        ("s3.amazonaws.com", "GetObjectAcl", "s3:GetObjectAcl"),
        ("s3.amazonaws.com", "CopyObject", "s3:PutObject"),
        ("s3.amazonaws.com", "CreateMultipartUpload", "s3:PutObject"),
        ("s3.amazonaws.com", "UploadPart", "s3:PutObject"),
        ("s3.amazonaws.com", "CompleteMultipartUpload", "s3:PutObject"),
        ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
        ("s3.amazonaws.com", "DeleteObjects", "s3:DeleteObject"),
        ("s3.amazonaws.com", "PutBucketCors", "s3:PutBucketCORS"),
        ("s3.amazonaws.com", "DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
        ("s3.amazonaws.com", "GetBucketLifecycle", "s3:GetLifecycleConfiguration"),
        ("lambda.amazonaws.com", "AddPermission20150331v2", "lambda:AddPermission"),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "lambda:UpdateFunctionCode"),
        ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
        ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
        ("cloudfront.amazonaws.com", "UpdateDistribution2014_01_31", "cloudfront:UpdateDistribution"),
        ("secretsmanager.amazonaws.com", "BatchGetSecretValue", "secretsmanager:BatchGetSecretValue"),
        ("signin.amazonaws.com", "ConsoleLogin", "signin:ConsoleLogin"),
        ("bedrock.amazonaws.com", "Converse", "bedrock:InvokeModel"),
        ("sqs.amazonaws.com", "SendMessageBatch", "sqs:SendMessage"),
        ("monitoring.amazonaws.com", "DescribeAlarms", "cloudwatch:DescribeAlarms"),
        ("ec2.amazonaws.com", "DescribeInstances", "ec2:DescribeInstances"),
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity"),
        ("iam.amazonaws.com", "GetRole", "iam:GetRole"),
    ],
)
def test_iam_action_names(source: str, name: str, action: str) -> None:
    assert iam_action(source, name) == action


def test_lookup_is_cached_per_pair() -> None:
    first = lookup("lambda.amazonaws.com", "GetFunction20150331v2")
    assert lookup("lambda.amazonaws.com", "GetFunction20150331v2") is first
    assert first.service == "lambda" and first.name == "GetFunction"
    assert lookup("s3.amazonaws.com", "HeadObject").s3_object
    assert not lookup("s3.amazonaws.com", "ListObjectsV2").s3_object


def test_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_actions, "_CACHE_MAX", 3)
    monkeypatch.setattr(aws_actions, "_cache", {})
    monkeypatch.setattr(aws_actions, "_size", 0)
    for index in range(10):
        assert iam_action("example.amazonaws.com", f"Op{index}") == f"example:Op{index}"
    assert sum(map(len, aws_actions._cache.values())) <= 3


# -- resources --------------------------------------------------------------------------------


def call(source: str, name: str, params: dict[str, Any] | None, **extra: Any) -> NormalizedEvent:
    """A real IAM-user record (stratus, us-west-2 style) re-aimed at another API call."""
    rec = record(STRATUS + "persistence.iam-backdoor-user.json")
    rec.update(eventSource=source, eventName=name, requestParameters=params, awsRegion="eu-west-1", **extra)
    rec.pop("resources", None)
    rec.pop("responseElements", None)
    return only_event(rec)


@pytest.fixture(scope="module")
def acct() -> str:
    return str(record(STRATUS + "persistence.iam-backdoor-user.json")["recipientAccountId"])


@pytest.mark.parametrize(
    ("source", "name", "params", "resource"),
    [
        ("s3", "GetObject", {"bucketName": "b", "key": "k/v.txt"}, "arn:aws:s3:::b/k/v.txt"),
        ("s3", "ListObjects", {"bucketName": "b", "prefix": ""}, "arn:aws:s3:::b"),
        ("s3", "PutBucketPolicy", {"bucketName": "b", "key": "ignored"}, "arn:aws:s3:::b"),
        ("s3", "ListBuckets", {"Host": "s3.amazonaws.com"}, "*"),
        ("iam", "AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/X"}, "{A}role/r"),
        ("iam", "AddUserToGroup", {"groupName": "g", "userName": "u"}, "{A}group/g"),
        (
            "iam",
            "AddRoleToInstanceProfile",
            {"instanceProfileName": "p", "roleName": "r"},
            "{A}instance-profile/p",
        ),
        ("iam", "CreatePolicyVersion", {"policyArn": "arn:aws:iam::1:policy/p"}, "arn:aws:iam::1:policy/p"),
        ("iam", "GetRole", None, "*"),
        ("sts", "AssumeRole", {"roleArn": "arn:aws:iam::1:role/x"}, "arn:aws:iam::1:role/x"),
        ("kms", "Decrypt", {"keyId": "arn:aws:kms:us-east-1:1:key/k"}, "arn:aws:kms:us-east-1:1:key/k"),
        ("kms", "Encrypt", {"keyId": "alias/app"}, "arn:aws:kms:eu-west-1:{a}:alias/app"),
        ("kms", "DisableKey", {"keyId": "1234abcd"}, "arn:aws:kms:eu-west-1:{a}:key/1234abcd"),
        (
            "secretsmanager",
            "GetSecretValue",
            {"secretId": "db"},
            "arn:aws:secretsmanager:eu-west-1:{a}:secret:db",
        ),
        (
            "secretsmanager",
            "GetSecretValue",
            {"secretId": "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf"},
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf",
        ),
        (
            "ssm",
            "GetParameter",
            {"name": "/app/db/password"},
            "arn:aws:ssm:eu-west-1:{a}:parameter/app/db/password",
        ),
        ("ssm", "GetParameters", {"names": ["plain", "/x"]}, "arn:aws:ssm:eu-west-1:{a}:parameter/plain"),
        ("ssm", "SendCommand", {"instanceIds": ["i-0abc"]}, "arn:aws:ec2:eu-west-1:{a}:instance/i-0abc"),
        ("ssm", "StartSession", {"target": "i-0abc"}, "arn:aws:ec2:eu-west-1:{a}:instance/i-0abc"),
        (
            "ssm",
            "GetDocument",
            {"name": "AWS-RunShellScript"},
            "arn:aws:ssm:eu-west-1:{a}:document/AWS-RunShellScript",
        ),
        ("dynamodb", "GetItem", {"tableName": "orders"}, "arn:aws:dynamodb:eu-west-1:{a}:table/orders"),
        (
            "logs",
            "PutLogEvents",
            {"logGroupName": "/eks/prod/app", "logStreamName": "pod-1"},
            "arn:aws:logs:eu-west-1:{a}:log-group:/eks/prod/app:log-stream:pod-1",
        ),
        (
            "logs",
            "CreateLogGroup",
            {"logGroupName": "/eks/prod/app"},
            "arn:aws:logs:eu-west-1:{a}:log-group:/eks/prod/app",
        ),
        (
            "dynamodb",
            "BatchGetItem",
            {"requestItems": {"orders": {}}},
            "arn:aws:dynamodb:eu-west-1:{a}:table/orders",
        ),
        ("lambda", "GetFunction20150331v2", {"functionName": "f"}, "arn:aws:lambda:eu-west-1:{a}:function:f"),
        (
            "lambda",
            "UpdateFunctionCode20150331v2",
            {"functionName": "arn:aws:lambda:us-east-1:1:function:f"},
            "arn:aws:lambda:us-east-1:1:function:f",
        ),
        (
            "sqs",
            "SendMessage",
            {"queueUrl": "https://sqs.eu-west-1.amazonaws.com/222233334444/orders"},
            "arn:aws:sqs:eu-west-1:222233334444:orders",
        ),
        ("sqs", "CreateQueue", {"queueName": "q"}, "arn:aws:sqs:eu-west-1:{a}:q"),
        ("sns", "Publish", {"topicArn": "arn:aws:sns:eu-west-1:1:t"}, "arn:aws:sns:eu-west-1:1:t"),
        ("ec2", "GetPasswordData", {"instanceId": "i-1"}, "arn:aws:ec2:eu-west-1:{a}:instance/i-1"),
        (
            "ec2",
            "StopInstances",
            {"instancesSet": {"items": [{"instanceId": "i-2"}, {"instanceId": "i-3"}]}},
            "arn:aws:ec2:eu-west-1:{a}:instance/i-2",
        ),
        (
            "ec2",
            "AuthorizeSecurityGroupIngress",
            {"groupId": "sg-1"},
            "arn:aws:ec2:eu-west-1:{a}:security-group/sg-1",
        ),
        (
            "ec2",
            "ModifySnapshotAttribute",
            {"snapshotId": "snap-1"},
            "arn:aws:ec2:eu-west-1::snapshot/snap-1",
        ),
        ("ec2", "AttachVolume", {"volumeId": "vol-1"}, "arn:aws:ec2:eu-west-1:{a}:volume/vol-1"),
        ("ec2", "ModifyImageAttribute", {"imageId": "ami-1"}, "arn:aws:ec2:eu-west-1::image/ami-1"),
        ("ec2", "DescribeRegions", {"regionSet": {}}, "*"),
        ("cloudtrail", "StopLogging", {"name": "trail"}, "*"),
    ],
)
def test_resources_derived_from_request_parameters(
    source: str, name: str, params: dict[str, Any] | None, resource: str, acct: str
) -> None:
    event = call(f"{source}.amazonaws.com", name, params)
    assert event.resource == resource.replace("{A}", f"arn:aws:iam::{acct}:").replace("{a}", acct)


def test_iam_calls_without_user_name_act_on_the_caller(acct: str) -> None:
    event = call("iam.amazonaws.com", "CreateAccessKey", None)
    assert event.resource == event.principal == f"arn:aws:iam::{acct}:user/christophe"
    assert event.change == AccessChange("access_key", event.principal)


def test_s3_resources_array_picks_object_or_bucket() -> None:
    otrf = "otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json"
    events = [e for e in (only_event(record(otrf, i)) for i in range(103)) if e.action.startswith("s3:")]
    get = next(e for e in events if e.action == "s3:GetObject")
    listing = next(e for e in events if e.action == "s3:ListBucket")
    assert get.resource == "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a/ring.txt"
    assert listing.resource == "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a"


def test_resources_array_order_does_not_matter_for_s3() -> None:
    rec = record("otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json", 0)
    rec.update(eventSource="s3.amazonaws.com", eventName="HeadObject", requestParameters=None)
    rec["resources"] = [
        {"ARN": "arn:aws:s3:::b", "accountId": "123456789123", "type": "AWS::S3::Bucket"},
        {"ARN": "arn:aws:s3:::b/o", "type": "AWS::S3::Object"},
    ]
    assert only_event(rec).resource == "arn:aws:s3:::b/o"
    rec["eventName"] = "HeadBucket"
    assert only_event(rec).resource == "arn:aws:s3:::b"
    rec["eventSource"] = "kms.amazonaws.com"  # not S3: the first ARN listed
    assert only_event(rec).resource == "arn:aws:s3:::b"


def test_resources_array_with_odd_entries() -> None:
    rec = record("elastic-integrations/test-converse-json.log")
    rec["resources"] = [
        "{'arn': 'x'}",
        {"type": "AWS::X"},
        {"arn": "arn:aws:bedrock:us-east-1::foundation-model/m"},
    ]
    assert only_event(rec).resource == "arn:aws:bedrock:us-east-1::foundation-model/m"


def test_us_gov_partition_in_derived_iam_arns() -> None:
    rec = record("elastic-integrations/test-us-gov-arn.log")
    rec.update(eventSource="iam.amazonaws.com", eventName="AttachRolePolicy")
    rec["requestParameters"] = {
        "roleName": "app",
        "policyArn": "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess",
    }
    event = only_event(rec)
    assert event.resource == "arn:aws-us-gov:iam::111111111111:role/app"
    assert event.change == AccessChange("iam_policy", "arn:aws-us-gov:iam::111111111111:role/app")


# -- access-model changes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "category", "target"),
    [
        (
            "AttachRolePolicy",
            {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/A"},
            "iam_policy",
            "{A}role/r",
        ),
        (
            "DetachUserPolicy",
            {"userName": "u", "policyArn": "arn:aws:iam::aws:policy/A"},
            "iam_policy",
            "{A}user/u",
        ),
        ("PutGroupPolicy", {"groupName": "g", "policyName": "p"}, "iam_policy", "{A}group/g"),
        ("DeleteRolePolicy", {"roleName": "r", "policyName": "p"}, "iam_policy", "{A}role/r"),
        ("PutRolePermissionsBoundary", {"roleName": "r"}, "iam_policy", "{A}role/r"),
        (
            "CreatePolicyVersion",
            {"policyArn": "arn:aws:iam::1:policy/p"},
            "iam_policy",
            "arn:aws:iam::1:policy/p",
        ),
        (
            "SetDefaultPolicyVersion",
            {"policyArn": "arn:aws:iam::1:policy/p"},
            "iam_policy",
            "arn:aws:iam::1:policy/p",
        ),
        ("UpdateAssumeRolePolicy", {"roleName": "r"}, "iam_trust_policy", "{A}role/r"),
        ("CreateRole", {"roleName": "r", "path": "/"}, "iam_trust_policy", "{A}role/r"),
        ("AddUserToGroup", {"groupName": "admins", "userName": "u"}, "iam_group", "{A}user/u"),
        ("CreateAccessKey", {"userName": "u"}, "access_key", "{A}user/u"),
        ("UpdateAccessKey", {"userName": "u", "status": "Active"}, "access_key", "{A}user/u"),
        ("CreateLoginProfile", {"userName": "u"}, "login_profile", "{A}user/u"),
        ("UpdateLoginProfile", {"userName": "u"}, "login_profile", "{A}user/u"),
        (
            "AddRoleToInstanceProfile",
            {"instanceProfileName": "p", "roleName": "r"},
            "instance_profile",
            "{A}instance-profile/p",
        ),
    ],
)
def test_iam_access_changes(name: str, params: dict[str, Any], category: str, target: str, acct: str) -> None:
    event = call("iam.amazonaws.com", name, params)
    assert event.change == AccessChange(category, target.replace("{A}", f"arn:aws:iam::{acct}:"))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("CreateUser", {"userName": "u"}),
        ("DeleteAccessKey", {"userName": "u", "accessKeyId": "AKIA..."}),
        ("CreatePolicy", {"policyName": "p"}),
        ("GetRole", {"roleName": "r"}),
    ],
)
def test_iam_calls_that_do_not_change_access(name: str, params: dict[str, Any]) -> None:
    assert call("iam.amazonaws.com", name, params).change is None


def test_resource_policy_changes_from_the_corpus() -> None:
    backdoor = only_event(record(STRATUS + "persistence.lambda-backdoor-function.json"))
    assert backdoor.action == "lambda:AddPermission"
    assert backdoor.change == AccessChange("resource_policy", backdoor.resource)
    assert backdoor.resource.endswith(":function:stratus-red-team-backdoor-f-func")
    snapshot = only_event(record(STRATUS + "exfiltration.ec2-share-ebs-snapshot.json"))
    assert snapshot.change is not None and snapshot.change.target == snapshot.resource
    assert ":snapshot/snap-" in snapshot.resource
    rds = only_event(record(STRATUS + "exfiltration.rds-share-snapshot.json"))
    assert rds.change is not None and ":rds:" in rds.change.target and ":snapshot:" in rds.change.target


def test_attribute_edits_that_share_nothing_are_not_changes() -> None:
    event = call(
        "ec2.amazonaws.com", "ModifySnapshotAttribute", {"snapshotId": "snap-1", "attributeType": "x"}
    )
    assert event.change is None
    event = call(
        "ec2.amazonaws.com", "ModifyImageAttribute", {"imageId": "ami-1", "description": {"value": "d"}}
    )
    assert event.change is None


def test_change_is_reported_whatever_the_outcome() -> None:
    rec = record(STRATUS + "persistence.iam-backdoor-role.json")
    rec["errorCode"] = "AccessDenied"
    event = only_event(rec)
    assert event.outcome == "denied"
    assert event.change is not None and event.change.category == "iam_trust_policy"
    assert event.change.target.endswith(":role/stratus-red-team-backdoor-r-role")


def test_stratus_backdoor_and_admin_user_changes() -> None:
    (key,) = parse_cloudtrail(record(STRATUS + "persistence.iam-backdoor-user.json"))
    assert isinstance(key, NormalizedEvent) and key.change is not None and key.change.category == "access_key"
    admin = [
        e
        for e in parse_cloudtrail(
            [record(STRATUS + "persistence.iam-create-admin-user.json", i) for i in range(3)]
        )
    ]
    categories = {
        e.action: e.change.category if e.change else None for e in admin if isinstance(e, NormalizedEvent)
    }
    assert categories == {
        "iam:AttachUserPolicy": "iam_policy",
        "iam:CreateAccessKey": "access_key",
        "iam:CreateUser": None,
    }


# -- role links -------------------------------------------------------------------------------


def test_assume_role_chain_link() -> None:
    password = STRATUS + "credential-access.ec2-get-password-data.json"
    allowed = [
        r
        for r in (record(password, i) for i in range(34))
        if r["eventName"] == "AssumeRole" and "errorCode" not in r
    ]
    assert len(allowed) == 2
    rec = allowed[0]
    event = only_event(rec)
    assert event.link is not None
    assert event.link.role == rec["requestParameters"]["roleArn"]
    assert event.link.subject is None
    assert event.link.session_keys == (
        rec["responseElements"]["credentials"]["accessKeyId"],
        rec["responseElements"]["assumedRoleUser"]["arn"],
    )


def test_only_sts_assume_role_calls_link() -> None:
    assert call("sts.amazonaws.com", "GetCallerIdentity", None).link is None
    assert call("iam.amazonaws.com", "GetRole", {"roleArn": "arn:aws:iam::1:role/x"}).link is None
    denied = copy.deepcopy(record(STRATUS + "defense-evasion.organizations-leave.json", 0))
    denied.update(
        eventSource="sts.amazonaws.com", eventName="AssumeRole", requestParameters=None, resources=None
    )
    assert only_event(denied).link is None  # no roleArn and no role ARN in resources
