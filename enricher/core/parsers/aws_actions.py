"""CloudTrail ``eventSource`` + ``eventName`` -> the IAM action string, and what the action means.

SPEC §5 wants the action as IAM writes it (``s3:ListBucket``), so entitlements written in IAM's
vocabulary match what CloudTrail logs. Everything about one (eventSource, eventName) pair is worked
out once and cached as an ``ActionInfo``; later events pay one or two dict lookups.

Naming rules, in order:

- service prefix = ``eventSource`` up to ``.amazonaws.com``, renamed where IAM uses another prefix
  (``monitoring`` -> ``cloudwatch``, ``email`` -> ``ses``, ``tagging`` -> ``tag``);
- an API-version suffix is dropped: Lambda's ``AddPermission20150331v2`` -> ``AddPermission``,
  CloudFront's ``UpdateDistribution2014_01_31`` -> ``UpdateDistribution``;
- then the per-service exceptions below (``_RENAMES``), where the API operation is authorized by a
  differently named IAM action (S3 list/head/multipart calls, S3 "Delete<Config>" calls that IAM
  authorizes as "Put<Config>", Lambda ``Invoke``, Bedrock ``Converse``, SQS/SNS batch calls).

Known gaps: actions whose IAM name depends on the request (S3 ``GetObject`` with ``versionId`` is
``s3:GetObjectVersion``; DynamoDB ``ExecuteStatement`` is ``PartiQL*``; API Gateway's ``apigateway:
POST``-style actions) keep the event name.

Access-model changes (``ActionInfo.change``: category, and whose access changed; SPEC §6 drift).
Policy changes count in both directions (attach and detach both make reality differ from the
baseline); credentials count only when created or re-activated (removing one cannot widen access,
and routine key rotation would otherwise alert twice).

=====================================================  ==================  ===================
IAM action(s)                                          category            target
=====================================================  ==================  ===================
iam:Attach/Detach/Put/DeleteRolePolicy                 iam_policy          role
iam:Put/DeleteRolePermissionsBoundary                  iam_policy          role
iam:Attach/Detach/Put/DeleteUserPolicy                 iam_policy          user
iam:Put/DeleteUserPermissionsBoundary                  iam_policy          user
iam:Attach/Detach/Put/DeleteGroupPolicy                iam_policy          group
iam:CreatePolicyVersion, SetDefaultPolicyVersion       iam_policy          policy
iam:AddUserToGroup, RemoveUserFromGroup                iam_group           user
iam:CreateRole, UpdateAssumeRolePolicy                 iam_trust_policy    role
iam:AddRoleToInstanceProfile                           instance_profile    instance profile
iam:CreateAccessKey, UpdateAccessKey                   access_key          user (caller if none)
iam:CreateServiceSpecificCredential                    access_key          user
iam:CreateLoginProfile, UpdateLoginProfile             login_profile       user
s3:PutBucketPolicy, DeleteBucketPolicy, PutBucketAcl   resource_policy     bucket
kms:PutKeyPolicy                                       resource_policy     key
lambda:AddPermission, RemovePermission                 resource_policy     function
lambda:AddLayerVersionPermission                       resource_policy     layer
secretsmanager:PutResourcePolicy, DeleteResourcePolicy resource_policy     secret
sqs:AddPermission, sns:AddPermission                   resource_policy     queue / topic
ecr:SetRepositoryPolicy                                resource_policy     repository
ec2:ModifySnapshotAttribute, ModifyImageAttribute      resource_policy     snapshot / image
rds:ModifyDBSnapshotAttribute                          resource_policy     snapshot
=====================================================  ==================  ===================

The change is reported whatever the outcome (a denied ``AttachRolePolicy`` is still an attempt on
the access model); the rules decide what an attempt means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Target kinds for ``ActionInfo.change_target``: which requestParameters name the target.
ROLE: Final = "role"
USER: Final = "user"
GROUP: Final = "group"
POLICY: Final = "policy"
INSTANCE_PROFILE: Final = "instance_profile"
RESOURCE: Final = "resource"  # the event's own resource (resource policies)

_PREFIXES: Final[dict[str, str]] = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag"}

_S3_RENAMES: Final[dict[str, str]] = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "ListBuckets": "ListAllMyBuckets",
    "HeadObject": "GetObject",
    "SelectObjectContent": "GetObject",
    "CopyObject": "PutObject",
    "PostObject": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteBucketPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteAccountPublicAccessBlock": "PutAccountPublicAccessBlock",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
}

_RENAMES: Final[dict[str, dict[str, str]]] = {
    "s3": _S3_RENAMES,
    "lambda": {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"},
    "bedrock": {"Converse": "InvokeModel", "ConverseStream": "InvokeModelWithResponseStream"},
    "sqs": {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    },
    "sns": {"PublishBatch": "Publish"},
}

# S3 actions authorized against the object ARN (everything else in s3 is bucket- or account-level).
S3_OBJECT_ACTIONS: Final = frozenset(
    [
        "GetObject",
        "GetObjectVersion",
        "GetObjectAcl",
        "GetObjectVersionAcl",
        "GetObjectAttributes",
        "GetObjectVersionAttributes",
        "GetObjectTagging",
        "GetObjectVersionTagging",
        "GetObjectRetention",
        "GetObjectLegalHold",
        "GetObjectTorrent",
        "PutObject",
        "PutObjectAcl",
        "PutObjectVersionAcl",
        "PutObjectTagging",
        "PutObjectVersionTagging",
        "PutObjectRetention",
        "PutObjectLegalHold",
        "DeleteObject",
        "DeleteObjectVersion",
        "DeleteObjectTagging",
        "DeleteObjectVersionTagging",
        "RestoreObject",
        "AbortMultipartUpload",
        "ListMultipartUploadParts",
        "BypassGovernanceRetention",
    ]
)

_CHANGES: Final[dict[str, tuple[str, str]]] = {
    **{
        f"iam:{verb}{kind.capitalize()}Policy": ("iam_policy", kind)
        for verb in ("Attach", "Detach", "Put", "Delete")
        for kind in (ROLE, USER, GROUP)
    },
    "iam:PutRolePermissionsBoundary": ("iam_policy", ROLE),
    "iam:DeleteRolePermissionsBoundary": ("iam_policy", ROLE),
    "iam:PutUserPermissionsBoundary": ("iam_policy", USER),
    "iam:DeleteUserPermissionsBoundary": ("iam_policy", USER),
    "iam:CreatePolicyVersion": ("iam_policy", POLICY),
    "iam:SetDefaultPolicyVersion": ("iam_policy", POLICY),
    "iam:AddUserToGroup": ("iam_group", USER),
    "iam:RemoveUserFromGroup": ("iam_group", USER),
    "iam:CreateRole": ("iam_trust_policy", ROLE),
    "iam:UpdateAssumeRolePolicy": ("iam_trust_policy", ROLE),
    "iam:AddRoleToInstanceProfile": ("instance_profile", INSTANCE_PROFILE),
    "iam:CreateAccessKey": ("access_key", USER),
    "iam:UpdateAccessKey": ("access_key", USER),
    "iam:CreateServiceSpecificCredential": ("access_key", USER),
    "iam:CreateLoginProfile": ("login_profile", USER),
    "iam:UpdateLoginProfile": ("login_profile", USER),
    **{
        action: ("resource_policy", RESOURCE)
        for action in (
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketAcl",
            "kms:PutKeyPolicy",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:AddLayerVersionPermission",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
            "sqs:AddPermission",
            "sns:AddPermission",
            "ecr:SetRepositoryPolicy",
            "ec2:ModifySnapshotAttribute",
            "ec2:ModifyImageAttribute",
            "rds:ModifyDBSnapshotAttribute",
        )
    },
}

# Only these attribute edits share a snapshot/image; a description change is not an access change.
SHARING_KEYS: Final[dict[str, str]] = {
    "ec2:ModifySnapshotAttribute": "createVolumePermission",
    "ec2:ModifyImageAttribute": "launchPermission",
    "rds:ModifyDBSnapshotAttribute": "valuesToAdd",
}

_VERSION_SUFFIX: Final = re.compile(r"(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")
_CACHE_MAX: Final = 20_000  # distinct (source, name) pairs; AWS has ~15k actions, the rest is junk


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """What one (eventSource, eventName) pair means: the IAM action and how to read its event."""

    service: str  # IAM service prefix: ``s3``, ``iam``, ``cloudwatch`` ...
    name: str  # IAM action name: ``ListBucket``
    action: str  # ``s3:ListBucket``
    s3_object: bool = False  # an S3 action authorized against the object ARN
    change_category: str | None = None
    change_target: str | None = None
    assumes_role: bool = False  # ``sts:AssumeRole*``: the event hands out a role session


_cache: dict[str, dict[str, ActionInfo]] = {}
_size = 0


def lookup(event_source: str, event_name: str) -> ActionInfo:
    """The cached ``ActionInfo`` for an event; worked out (regex and tables) on first sight only."""
    by_name = _cache.get(event_source)
    if by_name is not None:
        info = by_name.get(event_name)
        if info is not None:
            return info
    return _learn(event_source, event_name)


def iam_action(event_source: str, event_name: str) -> str:
    """``("s3.amazonaws.com", "ListObjectsV2")`` -> ``"s3:ListBucket"``."""
    return lookup(event_source, event_name).action


def service_prefix(event_source: str) -> str:
    """``lambda.amazonaws.com`` -> ``lambda``; ``monitoring.amazonaws.com`` -> ``cloudwatch``."""
    end = event_source.find(".amazonaws.com")
    service = event_source[:end] if end > 0 else event_source
    return _PREFIXES.get(service, service)


def normalize_event_name(service: str, event_name: str) -> str:
    """Drop an API-version suffix, then apply the service's IAM renames."""
    name = event_name
    suffix = _VERSION_SUFFIX.search(name)
    if suffix is not None and suffix.start() > 0:
        name = name[: suffix.start()]
    renames = _RENAMES.get(service)
    if renames is not None:
        name = renames.get(name, name)
    return name


def _learn(event_source: str, event_name: str) -> ActionInfo:
    global _size
    service = service_prefix(event_source)
    name = normalize_event_name(service, event_name)
    action = f"{service}:{name}"
    category, target = _CHANGES.get(action, (None, None))
    info = ActionInfo(
        service,
        name,
        action,
        service == "s3" and name in S3_OBJECT_ACTIONS,
        category,
        target,
        service == "sts" and event_name.startswith("AssumeRole"),
    )
    if _size >= _CACHE_MAX:
        _cache.clear()
        _size = 0
    _cache.setdefault(event_source, {})[event_name] = info
    _size += 1
    return info
