from datetime import UTC, datetime

from tests.unit.rules.scenario import ACCOUNT, judge, k8s_event, make_event, mesh_event


def test_matching_entitlement_and_success_is_expected(baseline):
    decision = judge(make_event(), baseline)
    assert (decision.verdict, decision.reason, decision.entitlement) == (
        "expected",
        "matched_entitlement",
        "receipts-rw",
    )
    assert "receipts-rw" in decision.explanation


def test_error_outcome_counts_as_allowed(baseline):
    assert judge(make_event(outcome="error"), baseline).reason == "matched_entitlement"


def test_matching_entitlement_but_denied_is_drift(baseline):
    decision = judge(make_event(outcome="denied", error_code="AccessDenied"), baseline)
    assert (decision.verdict, decision.reason) == ("drift", "approved_but_denied")


def test_success_beyond_baseline_is_overprivileged_with_nearest(baseline):
    decision = judge(make_event(action="s3:DeleteObject"), baseline)
    assert (decision.verdict, decision.reason) == ("overprivileged", "allowed_beyond_baseline")
    assert decision.entitlement is not None
    assert "nearest" in decision.explanation


def test_denied_beyond_baseline_is_unauthorized(baseline):
    decision = judge(make_event(action="s3:DeleteObject", outcome="denied"), baseline)
    assert (decision.verdict, decision.reason) == ("unauthorized_path", "denied_outside_baseline")


def test_expired_just_in_time_grant(baseline):
    event = make_event(action="kms:Decrypt", resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1")
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason, decision.entitlement) == (
        "unauthorized_path",
        "expired_entitlement",
        "kms-jit",
    )
    inside = judge(
        make_event(
            action="kms:Decrypt",
            resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1",
            time=datetime(2026, 1, 15, tzinfo=UTC),
        ),
        baseline,
    )
    assert inside.reason == "matched_entitlement"


def test_source_outside_cidr_is_unexpected_source(baseline):
    event = make_event(action="s3:ListBucket", resource="arn:aws:s3:::receipts-prod", source_ip="203.0.113.9")
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason) == ("unauthorized_path", "unexpected_source")
    inside = judge(make_event(action="s3:ListBucket", resource="arn:aws:s3:::receipts-prod"), baseline)
    assert inside.reason == "matched_entitlement"


def test_aws_actions_match_case_insensitively(baseline):
    assert judge(make_event(action="s3:getobject"), baseline).reason == "matched_entitlement"


def test_k8s_and_mesh_matches(baseline):
    assert judge(k8s_event(), baseline).reason == "matched_entitlement"
    assert judge(mesh_event(), baseline).reason == "matched_entitlement"
    assert judge(mesh_event(action="DELETE"), baseline).reason == "allowed_beyond_baseline"
