"""The resource ARN a CloudTrail event acts on (SPEC §5), and the target of an access change.

``resources[]`` wins when it lists ARNs: the S3 object ARN for object actions, the bucket ARN for
bucket actions, otherwise the first ARN listed. Without it the ARN is built from
``requestParameters`` for the common services (SPEC §5's list, plus Bedrock models and RDS
databases and snapshots); anything else is ``*``.

Built ARNs are only as good as the request: IAM role and user ARNs lack their path (``roleName``
does not carry it), Secrets Manager ARNs lack the random ``-AbCdEf`` suffix, and a KMS alias stays an
alias ARN. Baseline patterns (``role/*name``, ``secret:name-*``) or path-insensitive alias matching
cover those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from enricher.core.parsers import aws_actions as acts
from enricher.core.parsers.aws_actions import ActionInfo

Deriver = Callable[[dict[str, object], str, str, str, str, str | None], str | None]


def _str(value: object) -> str | None:
    return value if type(value) is str and value else None


def _first_str(value: object) -> str | None:
    if type(value) is list and value:
        return _str(value[0])
    return _str(value)


def from_resources(resources: object, info: ActionInfo) -> str | None:
    """The ARN from ``resources[]`` the IAM action authorizes against, or None."""
    if type(resources) is not list:
        return None
    want = None
    if info.service == "s3":
        want = "AWS::S3::Object" if info.s3_object else "AWS::S3::Bucket"
    first = None
    for item in resources:
        if type(item) is not dict:
            continue
        arn = item.get("ARN") or item.get("arn")  # Panther fixtures write "arn"
        if type(arn) is not str or not arn:
            continue
        if want is None or item.get("type") == want:
            return arn
        if first is None:
            first = arn
    return first


def derive(
    info: ActionInfo, params: object, partition: str, account: str, region: str, caller: str | None
) -> str:
    """The resource ARN built from ``requestParameters``, or ``*`` when it cannot be told."""
    deriver = _DERIVERS.get(info.service)
    if deriver is None:
        return "*"
    if type(params) is not dict:
        params = {}
    return deriver(params, info.name, partition, account, region, caller) or "*"


def change_target(
    info: ActionInfo, params: object, partition: str, account: str, resource: str, caller: str | None
) -> str:
    """Whose access an access-model change alters: the role/user/group/policy ARN, else the resource."""
    kind = info.change_target
    p = params if type(params) is dict else {}
    target: str | None = None
    if kind == acts.ROLE:
        target = _iam_arn(partition, account, "role", p.get("roleName"))
    elif kind == acts.USER:
        target = _iam_arn(partition, account, "user", p.get("userName")) or caller
    elif kind == acts.GROUP:
        target = _iam_arn(partition, account, "group", p.get("groupName"))
    elif kind == acts.POLICY:
        target = _str(p.get("policyArn"))
    elif kind == acts.INSTANCE_PROFILE:
        target = _iam_arn(partition, account, "instance-profile", p.get("instanceProfileName"))
    return target or resource


def is_sharing_change(info: ActionInfo, params: object) -> bool:
    """False for the snapshot/image attribute edits that do not grant access to anyone."""
    key = acts.SHARING_KEYS.get(info.action)
    return key is None or (type(params) is dict and bool(params.get(key)))


def partition_of(arn: object) -> str | None:
    """``arn:aws-us-gov:...`` -> ``aws-us-gov``; None when the value is not an ARN."""
    if type(arn) is not str or not arn.startswith("arn:"):
        return None
    if arn.startswith("arn:aws:"):
        return "aws"
    end = arn.find(":", 4)
    return arn[4:end] if end > 4 else None


def partition_of_region(region: str) -> str:
    """The partition a region belongs to, for events that name no ARN at all."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def _iam_arn(partition: str, account: str, kind: str, name: object) -> str | None:
    if type(name) is not str or not name:
        return None
    if name.startswith("arn:"):
        return name
    return f"arn:{partition}:iam::{account}:{kind}/{name}"


def _arn_or(value: object, prefix: str) -> str | None:
    """``value`` itself when it is already an ARN, else ``prefix + value``."""
    text = _str(value)
    if text is None:
        return None
    return text if text.startswith("arn:") else prefix + text


# IAM: the order is which parameter the IAM action authorizes against when several are given
# (AddRoleToInstanceProfile -> the instance profile, AddUserToGroup -> the group,
# AttachRolePolicy -> the role, CreatePolicyVersion -> the policy).
_IAM_PARAMS: Final = (
    ("instanceProfileName", "instance-profile"),
    ("groupName", "group"),
    ("roleName", "role"),
    ("userName", "user"),
)
_IAM_ARN_PARAMS: Final = ("policyArn", "openIDConnectProviderArn", "sAMLProviderArn", "serialNumber")
# IAM calls that act on the calling user when userName is left out.
_IAM_SELF: Final = frozenset(
    [
        "CreateAccessKey",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "ListAccessKeys",
        "ChangePassword",
        "GetUser",
        "ListMFADevices",
        "ListSigningCertificates",
        "UploadSigningCertificate",
        "ListSSHPublicKeys",
    ]
)


def _iam(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    for key, kind in _IAM_PARAMS:
        arn = _iam_arn(part, acct, kind, p.get(key))
        if arn is not None:
            return arn
    for key in _IAM_ARN_PARAMS:
        arn = _str(p.get(key))
        if arn is not None:
            return arn
    return caller if name in _IAM_SELF else None


def _s3(p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None) -> str | None:
    bucket = _str(p.get("bucketName"))
    if bucket is None:
        return None
    key = _str(p.get("key"))
    if key is not None and name in acts.S3_OBJECT_ACTIONS:
        return f"arn:{part}:s3:::{bucket}/{key}"
    return f"arn:{part}:s3:::{bucket}"


def _sts(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    role = _str(p.get("roleArn"))
    if role is not None:
        return role
    if name == "GetFederationToken":
        return _arn_or(p.get("name"), f"arn:{part}:sts::{acct}:federated-user/")
    return None


def _kms(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    key = _str(p.get("keyId")) or _str(p.get("targetKeyId"))
    if key is None:
        return None
    if key.startswith("arn:"):
        return key
    if key.startswith("alias/"):
        return f"arn:{part}:kms:{region}:{acct}:{key}"
    return f"arn:{part}:kms:{region}:{acct}:key/{key}"


def _secrets(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    secret = _str(p.get("secretId")) or _first_str(p.get("secretIdList")) or _str(p.get("name"))
    return _arn_or(secret, f"arn:{part}:secretsmanager:{region}:{acct}:secret:")


def _ssm(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    if "Parameter" in name:
        param = _str(p.get("name")) or _first_str(p.get("names")) or _str(p.get("path"))
        if param is not None and not param.startswith("arn:"):
            param = f"arn:{part}:ssm:{region}:{acct}:parameter/{param.lstrip('/')}"
        return param
    instance = _first_str(p.get("instanceIds")) or _str(p.get("instanceId")) or _str(p.get("target"))
    if instance is not None:
        return _arn_or(instance, f"arn:{part}:ec2:{region}:{acct}:instance/")
    if "Document" in name:
        return _arn_or(p.get("name"), f"arn:{part}:ssm:{region}:{acct}:document/")
    return None


def _dynamodb(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    table = p.get("tableName")
    items = p.get("requestItems")
    if table is None and type(items) is dict and items:
        table = next(iter(items))  # BatchGetItem / BatchWriteItem: keyed by table name
    return _arn_or(table, f"arn:{part}:dynamodb:{region}:{acct}:table/")


def _lambda(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    function = _str(p.get("functionName"))
    if function is not None:
        if function.startswith("arn:"):
            return function
        if ":function:" in function:  # partial ARN "123456789012:function:name"
            return f"arn:{part}:lambda:{region}:{function}"
        return f"arn:{part}:lambda:{region}:{acct}:function:{function}"
    return _arn_or(p.get("layerName"), f"arn:{part}:lambda:{region}:{acct}:layer:")


def _sqs(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    url = _str(p.get("queueUrl"))
    if url is not None:
        # https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (the queue may live in another account)
        pieces = url.rstrip("/").rsplit("/", 2)
        if len(pieces) == 3 and pieces[1] and pieces[2]:
            return f"arn:{part}:sqs:{region}:{pieces[1]}:{pieces[2]}"
        return None
    return _arn_or(p.get("queueName"), f"arn:{part}:sqs:{region}:{acct}:")


def _sns(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    topic = _str(p.get("topicArn")) or _str(p.get("targetArn")) or _str(p.get("resourceArn"))
    if topic is not None:
        return topic
    if name == "CreateTopic":
        return _arn_or(p.get("name"), f"arn:{part}:sns:{region}:{acct}:")
    return None


# EC2 request keys after the instance, most specific first: (key, ARN resource type, whether the
# ARN names the account; snapshot and image ARNs leave it empty).
_EC2_IDS: Final = (
    ("groupId", "security-group", True),
    ("snapshotId", "snapshot", False),
    ("volumeId", "volume", True),
    ("imageId", "image", False),
)


def _ec2(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    instance = _str(p.get("instanceId")) or _ec2_set_instance(p.get("instancesSet"))
    if instance is not None:
        return f"arn:{part}:ec2:{region}:{acct}:instance/{instance}"
    for key, kind, scoped in _EC2_IDS:
        value = _str(p.get(key))
        if value is not None:
            return f"arn:{part}:ec2:{region}:{acct if scoped else ''}:{kind}/{value}"
    return None


def _ec2_set_instance(instances: object) -> str | None:
    """``instancesSet: {items: [{instanceId}]}`` (``item`` in some older records)."""
    if type(instances) is not dict:
        return None
    items = instances.get("items") or instances.get("item")
    if type(items) is list and items and type(items[0]) is dict:
        return _str(items[0].get("instanceId"))
    return None


def _bedrock(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    return _arn_or(p.get("modelId"), f"arn:{part}:bedrock:{region}::foundation-model/")


# RDS identifiers -> ARN resource type (snapshots before instances: ModifyDBSnapshotAttribute
# and CopyDBSnapshot name both).
_RDS_IDS: Final = (
    ("dBSnapshotIdentifier", "snapshot"),
    ("sourceDBSnapshotIdentifier", "snapshot"),
    ("dBClusterSnapshotIdentifier", "cluster-snapshot"),
    ("dBInstanceIdentifier", "db"),
    ("dBClusterIdentifier", "cluster"),
)


def _rds(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    for key, kind in _RDS_IDS:
        value = _str(p.get(key))
        if value is not None:
            return _arn_or(value, f"arn:{part}:rds:{region}:{acct}:{kind}:")
    return _str(p.get("resourceArn")) or _str(p.get("sourceArn"))


def _logs(
    p: dict[str, object], name: str, part: str, acct: str, region: str, caller: str | None
) -> str | None:
    # CloudWatch Logs: PutLogEvents authorizes on the stream, group-level calls on the group
    group = _str(p.get("logGroupName"))
    if group is None:
        return _str(p.get("logGroupArn")) or _str(p.get("resourceArn"))
    arn = f"arn:{part}:logs:{region}:{acct}:log-group:{group}"
    stream = _str(p.get("logStreamName"))
    return f"{arn}:log-stream:{stream}" if stream is not None else arn


_DERIVERS: Final[dict[str, Deriver]] = {
    "iam": _iam,
    "s3": _s3,
    "sts": _sts,
    "kms": _kms,
    "secretsmanager": _secrets,
    "ssm": _ssm,
    "dynamodb": _dynamodb,
    "lambda": _lambda,
    "sqs": _sqs,
    "sns": _sns,
    "ec2": _ec2,
    "ec2-instance-connect": _ec2,
    "bedrock": _bedrock,
    "rds": _rds,
    "logs": _logs,
}

# Services whose resource can be derived from requestParameters (the rest are ``*``).
DERIVED_SERVICES: Final = frozenset(_DERIVERS)
