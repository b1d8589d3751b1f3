"""AWS CloudTrail records -> ``NormalizedEvent`` (SPEC §3-§6).

Accepted shapes: one record; a ``{"Records": [...]}`` log-file body; a bare list of records; an
EventBridge envelope (``detail`` holds the record, ``detail-type`` "... via CloudTrail"); a
CloudWatch Logs subscription body (``logEvents[].message`` holds the record as a JSON string).
Digest files and CloudTrail Insights events are valid but not judged (``Skipped``). A bad record
inside a body becomes a ``ParseError`` carrying that record, and its siblings still parse.

The actor (SPEC §4): an ``AssumedRole`` session is keyed by its role ARN
(``sessionContext.sessionIssuer.arn``; derived from the ``assumed-role`` ARN when the issuer is
``{}``, which loses any role path), ``IAMUser``/``Root`` by their ARN, ``AWSService`` by
``invokedBy``, ``IdentityCenterUser`` and ``AWSReservedSSO_*`` roles are human SSO, a
``WebIdentityUser`` by its subject (EKS IRSA: ``system:serviceaccount:NS:SA``), the rest by the best
string available. Outcome: no ``errorCode`` is success (except a failed console sign-in);
``AccessDenied*``, ``*UnauthorizedOperation``, SNS ``AuthorizationError`` or a "not authorized to
perform" message is a denial; any other error code is ``error``.

Some exports rename fields: Logstash moves ``eventTime`` to ``@timestamp`` (the OTRF corpus), so
that is the fallback time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from hashlib import blake2b
from typing import Final

import orjson

from enricher.core import events as ev
from enricher.core.events import AWS_ROLE, AWS_SSO, AccessChange, IdentityLink, NormalizedEvent, Skipped
from enricher.core.parsers import aws_resources as res
from enricher.core.parsers._time import parse_rfc3339
from enricher.core.parsers.aws_actions import ActionInfo, lookup
from enricher.errors import ParseError

Item = NormalizedEvent | Skipped | ParseError

DIGEST: Final = Skipped("cloudtrail_digest")
INSIGHT: Final = Skipped("cloudtrail_insight")
CLOUDWATCH_CONTROL: Final = Skipped("cloudwatch_control_message")

_EMPTY: Final[dict[str, object]] = {}
_RECORD_HINTS: Final = ("eventSource", "eventVersion", "eventTime", "userIdentity", "eventID")
_SA_PREFIX: Final = "system:serviceaccount:"
_DENIED_CODES: Final = frozenset({"AuthorizationError", "AuthorizationErrorException"})
_error_outcomes: dict[str, str] = {}


def parse_cloudtrail(obj: object) -> Iterator[Item]:
    """Yield one event, ``Skipped`` or ``ParseError`` per CloudTrail record in a decoded message.

    Never raises for bad input: a record that cannot be read becomes a ``ParseError`` naming it.
    """
    if type(obj) is dict:
        if "eventName" in obj:  # the common case: one plain record
            yield _record(obj)
        elif "Records" in obj:
            yield from _records(obj)
        elif "logEvents" in obj or "messageType" in obj:
            yield from _cloudwatch_logs(obj)
        else:
            yield _one(obj)
    elif type(obj) is list:
        for item in obj:
            yield _one(item) if type(item) is dict else _not_an_object(item)
    else:
        yield _not_an_object(obj)


def parse_cloudtrail_record(rec: dict[str, object]) -> Item:
    """The item of one plain record (a dict with ``eventName``): what ``parse_cloudtrail`` yields for it."""
    return _record(rec)


def _records(body: dict[str, object]) -> Iterator[Item]:
    records = body["Records"]
    if type(records) is not list:
        yield ParseError("wrong_type", "Records is not a list", raw=body)
        return
    for item in records:
        yield _one(item) if type(item) is dict else _not_an_object(item)


def _cloudwatch_logs(body: dict[str, object]) -> Iterator[Item]:
    """CloudWatch Logs subscription data: each ``logEvents[].message`` is one record, JSON-encoded."""
    if body.get("messageType") == "CONTROL_MESSAGE":
        yield CLOUDWATCH_CONTROL
        return
    log_events = body.get("logEvents")
    if type(log_events) is not list:
        yield ParseError("wrong_type", "logEvents is not a list", raw=body)
        return
    for log_event in log_events:
        message = log_event.get("message") if type(log_event) is dict else None
        if type(message) is not str:
            yield ParseError("wrong_type", "logEvents[].message is not a string", raw=log_event)
            continue
        try:
            record = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            yield ParseError("invalid_json", f"logEvents[].message: {exc}", raw=log_event)
            continue
        yield _one(record) if type(record) is dict else _not_an_object(log_event)


def _one(obj: dict[str, object]) -> Item:
    """One object that should be a record: a record, an EventBridge envelope or a digest."""
    if "eventName" in obj:
        return _record(obj)
    if "detail" in obj or "detail-type" in obj:
        return _eventbridge(obj)
    if "digestStartTime" in obj or "logFiles" in obj:
        return DIGEST
    if _is_insight(obj):  # Insights name the API under insightDetails, not eventName
        return INSIGHT
    for key in _RECORD_HINTS:
        if key in obj:
            return ParseError("missing_field", "eventName is missing", raw=obj)
    return ParseError("not_cloudtrail", "not a CloudTrail record", raw=obj)


def _eventbridge(envelope: dict[str, object]) -> Item:
    kind = envelope.get("detail-type")
    if kind is not None and (type(kind) is not str or not kind.endswith("via CloudTrail")):
        return ParseError("not_cloudtrail", f"EventBridge detail-type {kind!r}", raw=envelope)
    detail = envelope.get("detail")
    if type(detail) is not dict:
        return ParseError("wrong_type", "EventBridge detail is not an object", raw=envelope)
    if "eventName" not in detail:
        return INSIGHT if _is_insight(detail) else ParseError("missing_field", "eventName", raw=envelope)
    return _record(detail)


def _not_an_object(value: object) -> ParseError:
    return ParseError("not_an_object", f"expected a JSON object, got {type(value).__name__}", raw=value)


def _is_insight(rec: dict[str, object]) -> bool:
    return rec.get("eventCategory") == "Insight" or rec.get("eventType") == "AwsCloudTrailInsight"


def _record(rec: dict[str, object]) -> Item:
    try:
        return _build(rec)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # A last line of defence for shapes the checks below did not foresee; the fuzz tests
        # assert it never fires, so a hit here means a new kind of bad record worth a look.
        return ParseError("malformed", f"{type(exc).__name__}: {exc}", raw=rec)


def _build(rec: dict[str, object]) -> Item:
    name = rec.get("eventName")
    source = rec.get("eventSource")
    when = rec.get("eventTime") or rec.get("@timestamp")
    if type(name) is not str or type(source) is not str or type(when) is not str or not name or not source:
        return _bad_fields(rec, name, source, when)
    try:
        time = parse_rfc3339(when)
    except ValueError:
        return ParseError("bad_time", f"eventTime {when!r} is not an RFC 3339 timestamp", raw=rec)
    ui = rec.get("userIdentity")
    if ui is None:
        if _is_insight(rec):
            return INSIGHT
        ui = _EMPTY  # trimmed fixtures; real API-call records always name an identity
    elif type(ui) is not dict:
        return ParseError("wrong_type", "userIdentity is not an object", raw=rec)
    error = rec.get("errorCode")
    if error is not None and type(error) is not str:
        return ParseError("wrong_type", "errorCode is not a string", raw=rec)

    return _event(rec, ui, name, lookup(source, name), time, error)


def _event(
    rec: dict[str, object],
    ui: dict[str, object],
    name: str,
    info: ActionInfo,
    time: datetime,
    error: str | None,
) -> NormalizedEvent:
    principal, kind, raw_principal, session = _actor(ui)
    # Optional strings are read inline (no helper call): this runs for every CloudTrail event.
    account = rec.get("recipientAccountId")
    if type(account) is not str or not account:
        account = _opt(ui.get("accountId"))
    region = rec.get("awsRegion")
    if type(region) is not str or not region:
        region = None
    listed = rec.get("resources")  # absent from most management events
    resource = res.from_resources(listed, info) if listed else None
    category = info.change_category
    change = None
    # requestParameters only matter to derive a resource, an access change or a role hand-off
    params = (
        rec.get("requestParameters")
        if resource is None or category is not None or info.assumes_role
        else None
    )
    if (resource is None and info.service in res.DERIVED_SERVICES) or category is not None:
        partition = "aws" if raw_principal.startswith("arn:aws:") else _partition(ui, region)
        # the calling user, for IAM calls that act on "myself" when userName is omitted
        caller = principal if kind == ev.AWS_USER or kind == ev.AWS_ROOT else None
        if resource is None:
            resource = res.derive(info, params, partition, account or "", region or "", caller)
        if category is not None and res.is_sharing_change(info, params):
            target = res.change_target(info, params, partition, account or "", resource, caller)
            change = AccessChange(category, target)
    link = None
    if info.assumes_role:
        link = _link(rec, params, ui, name, resource or "*")
    event_id = rec.get("eventID")
    if type(event_id) is not str or not event_id:
        event_id = _hash_id(rec)
    key = ui.get("accessKeyId")
    ip = rec.get("sourceIPAddress")
    agent = rec.get("userAgent")
    # positional: keyword arguments cost ~1 us more per event on a 23-field constructor
    return NormalizedEvent(
        "cloudtrail",  # source
        "aws",  # system
        event_id,
        time,
        principal,
        kind,  # principal_kind
        raw_principal,
        info.action,
        resource or "*",
        "success" if error is None and info.service != "signin" else _outcome(rec, error, info, name),
        session,
        key if type(key) is str and key else None,  # session_key
        (),  # via
        account,
        region,
        None,  # cluster
        None,  # namespace
        ip if type(ip) is str and ip else None,  # source_ip
        agent if type(agent) is str and agent else None,  # user_agent
        change,
        link,
        error,  # error_code
        account or "",  # boundary
    )


def _bad_fields(rec: dict[str, object], name: object, source: object, when: object) -> ParseError:
    for field, value in (("eventName", name), ("eventSource", source), ("eventTime", when)):
        if value is None or value == "":
            return ParseError("missing_field", f"{field} is missing", raw=rec)
        if type(value) is not str:
            return ParseError("wrong_type", f"{field} is not a string", raw=rec)
    return ParseError("wrong_type", "eventName/eventSource/eventTime", raw=rec)


def _opt(value: object) -> str | None:
    return value if type(value) is str and value else None


def _actor(ui: dict[str, object]) -> tuple[str, str, str, str | None]:
    """(principal, principal kind, raw principal, session name) from ``userIdentity``."""
    kind = ui.get("type")
    arn = ui.get("arn")
    if type(arn) is not str:
        arn = ""
    if kind == "AssumedRole":
        return _assumed_role(ui, arn)
    return _other_actor(ui, kind, arn)


def _other_actor(ui: dict[str, object], kind: object, arn: str) -> tuple[str, str, str, str | None]:
    if kind == "IAMUser":
        user = arn or _iam_arn(ui, "user/", ui.get("userName"))
        return user, ev.AWS_USER, user, None
    if kind == "AWSService":
        service = _opt(ui.get("invokedBy")) or ""
        return service, ev.AWS_SERVICE, arn or service, None
    if kind == "Root":
        root = arn or _iam_arn(ui, "", "root")
        return root, ev.AWS_ROOT, root, None
    if kind == "IdentityCenterUser":
        behalf = ui.get("onBehalfOf")
        on_behalf = _opt(behalf.get("userId")) if type(behalf) is dict else None
        user = on_behalf or arn or _opt(ui.get("principalId")) or ""
        return user, ev.AWS_SSO, arn or user, None
    if kind == "WebIdentityUser":
        subject = _opt(ui.get("userName"))
        if subject is not None:
            sa_kind = ev.K8S_SERVICE_ACCOUNT if is_service_account(subject) else ev.AWS_OTHER
            return subject, sa_kind, arn or _opt(ui.get("principalId")) or subject, None
    best = arn or _opt(ui.get("principalId")) or _opt(ui.get("userName")) or _opt(ui.get("accountId")) or ""
    return best, ev.AWS_OTHER, best, None


def _assumed_role(ui: dict[str, object], arn: str) -> tuple[str, str, str, str | None]:
    # Optional strings are tested inline, not through _opt: this runs for most CloudTrail events.
    context = ui.get("sessionContext")
    issuer = context.get("sessionIssuer") if type(context) is dict else None
    role = issuer.get("arn") if type(issuer) is dict else None
    if type(role) is not str or not role:
        role = None
    start = arn.find(":assumed-role/")
    session = None
    if start > 0:
        role_name, _, session = arn[start + 14 :].partition("/")
        if role is None:
            # sessionIssuer can be {} (console sessions): arn:P:sts::A:assumed-role/R/S ->
            # arn:P:iam::A:role/R. The assumed-role ARN carries no role path, so neither does this.
            head = arn[:start].split(":")
            if len(head) == 5:
                role = f"arn:{head[1]}:iam::{head[4]}:role/{role_name}"
    if not session or not (role or arn):  # only then does the principal id matter
        principal_id = _opt(ui.get("principalId"))
        if not session and principal_id is not None and ":" in principal_id:
            session = principal_id.partition(":")[2]
        role = role or arn or principal_id or ""
    elif role is None:
        role = arn
    kind = AWS_SSO if "/AWSReservedSSO_" in role else AWS_ROLE
    return role, kind, arn or role, session or None


def _iam_arn(ui: dict[str, object], kind: str, name: object) -> str:
    """A user/root ARN for trimmed records that give only the account and the name."""
    account = _opt(ui.get("accountId"))
    if account is None or type(name) is not str or not name:
        return _opt(ui.get("principalId")) or ""
    return f"arn:aws:iam::{account}:{kind}{name}"


def is_service_account(name: str) -> bool:
    """``system:serviceaccount:NS:SA`` with both parts present (an EKS IRSA subject)."""
    if not name.startswith(_SA_PREFIX):
        return False
    namespace, sep, account = name[len(_SA_PREFIX) :].partition(":")
    return bool(namespace and sep and account) and ":" not in account


def _partition(ui: dict[str, object], region: str | None) -> str:
    partition = res.partition_of(ui.get("arn"))
    if partition is None:
        context = ui.get("sessionContext")
        issuer = context.get("sessionIssuer") if type(context) is dict else None
        partition = res.partition_of(issuer.get("arn")) if type(issuer) is dict else None
    return partition or res.partition_of_region(region or "")


def _outcome(rec: dict[str, object], error: str | None, info: ActionInfo, name: str) -> str:
    if error is None:
        if info.service == "signin" and _signin_failed(rec, name):
            return "denied"
        return "success"
    outcome = _error_outcomes.get(error)
    if outcome is None:
        outcome = _classify_error(error)
    if outcome == "error":
        message = rec.get("errorMessage")
        if type(message) is str and "not authorized to perform" in message:
            return "denied"
    return outcome


def _classify_error(code: str) -> str:
    denied = "AccessDenied" in code or code.endswith("UnauthorizedOperation") or code in _DENIED_CODES
    outcome = "denied" if denied else "error"
    if len(_error_outcomes) < 10_000:
        _error_outcomes[code] = outcome
    return outcome


def _signin_failed(rec: dict[str, object], name: str) -> bool:
    """A failed console sign-in carries no errorCode: ``responseElements.ConsoleLogin = "Failure"``
    (``serviceEventDetails.UserAuthentication`` for Identity Center sign-ins)."""
    for key in ("responseElements", "serviceEventDetails"):
        block = rec.get(key)
        if type(block) is dict and block.get(name) == "Failure":
            return True
    return False


def _link(
    rec: dict[str, object], params: object, ui: dict[str, object], name: str, resource: str
) -> IdentityLink | None:
    """``AssumeRole*`` hands the caller a session of ``roleArn``; keep what later events carry."""
    role = _opt(params.get("roleArn")) if type(params) is dict else None
    if role is None:
        if ":role/" not in resource:
            return None
        role = resource
    keys: list[str] = []
    subject = None
    response = rec.get("responseElements")
    if type(response) is dict:
        credentials = response.get("credentials")
        if type(credentials) is dict and (key := _opt(credentials.get("accessKeyId"))) is not None:
            keys.append(key)
        assumed = response.get("assumedRoleUser")
        if type(assumed) is dict and (session_arn := _opt(assumed.get("arn"))) is not None:
            keys.append(session_arn)
        subject = _opt(response.get("subjectFromWebIdentityToken")) or _opt(response.get("subject"))
    if name == "AssumeRole":
        subject = None
    else:
        subject = _opt(ui.get("userName")) or subject
    return IdentityLink(role=role, subject=subject, session_keys=tuple(keys))


def _hash_id(rec: dict[str, object]) -> str:
    """A stable id for records without ``eventID`` (hand-made fixtures): the record's own hash."""
    try:
        data = orjson.dumps(rec, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes, or values JSON cannot hold
        data = "|".join(str(rec.get(key)) for key in ("eventSource", "eventName", "eventTime")).encode()
    return blake2b(data, digest_size=16).hexdigest()
