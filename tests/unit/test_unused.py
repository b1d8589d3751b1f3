import json
from datetime import UTC, datetime, timedelta

import orjson
from jsonschema import Draft202012Validator

from enricher.core.baseline import compile_baseline
from enricher.core.model import BaselineDocument, BaselineSettings, Entitlement, Identity
from enricher.core.pipeline import serialize_verdict
from enricher.core.unused import find_unused
from tests.conftest import REPO

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _baseline(*identities: Identity):
    return compile_baseline(
        BaselineDocument(identities=identities, settings=BaselineSettings(unused_after_days=30)), version=4
    )


def _identity(**kw) -> Identity:
    return Identity(
        id=kw.get("id", "api"),
        kind="workload",
        owner="team",
        purpose="p",
        status=kw.get("status", "active"),
        aliases=("arn:aws:iam::111122223333:role/api", "system:serviceaccount:pay:api"),
        entitlements=kw.get(
            "entitlements",
            (
                Entitlement("read", "aws", ("s3:GetObject",), ("arn:aws:s3:::b/*",)),
                Entitlement("cm", "k8s", ("get",), ("pay/core/configmaps/*",)),
            ),
        ),
    )


def test_idle_entitlements_are_findings_and_used_ones_are_not():
    baseline = _baseline(_identity())
    last_used = {("api", "read"): NOW - timedelta(days=2)}
    findings = find_unused(baseline, last_used, NOW, observing_since=SINCE)
    assert [(f.entitlement, f.verdict, f.reason, f.severity) for f in findings] == [
        ("cm", "overprivileged", "unused_entitlement", "medium")
    ]
    only = findings[0]
    assert only.source == "k8s_audit" and only.principal == "system:serviceaccount:pay:api"
    assert "has not been used for 180 days (threshold 30)" in only.explanation
    assert only.baseline_version == 4


def test_a_new_deployment_does_not_report_everything_on_day_one():
    assert find_unused(_baseline(_identity()), {}, NOW, observing_since=NOW - timedelta(days=3)) == []


def test_once_per_entitlement_per_period():
    baseline = _baseline(_identity())
    first = find_unused(baseline, {}, NOW, observing_since=SINCE)
    later_same_period = find_unused(baseline, {}, NOW + timedelta(hours=5), observing_since=SINCE)
    next_period = find_unused(baseline, {}, NOW + timedelta(days=31), observing_since=SINCE)
    assert [f.verdict_id for f in first] == [f.verdict_id for f in later_same_period]
    assert not {f.verdict_id for f in first} & {f.verdict_id for f in next_period}


def test_decommissioned_and_out_of_window_grants_are_skipped():
    expired = Entitlement("jit", "aws", ("kms:Decrypt",), ("*",), valid_until=NOW - timedelta(days=1))
    assert find_unused(_baseline(_identity(status="decommissioned")), {}, NOW, observing_since=SINCE) == []
    assert find_unused(_baseline(_identity(entitlements=(expired,))), {}, NOW, observing_since=SINCE) == []


def test_findings_validate_against_the_verdict_schema():
    validator = Draft202012Validator(json.loads((REPO / "schemas" / "verdict.schema.json").read_text()))
    for finding in find_unused(_baseline(_identity()), {}, NOW, observing_since=SINCE):
        record = orjson.loads(serialize_verdict(finding))
        assert [e.message for e in validator.iter_errors(record)] == []
