from enricher.core import events as ev
from tests.unit.rules.scenario import ACCOUNT, judge, make_event


def test_unknown_in_scope_role_is_a_shadow_identity(baseline):
    event = make_event(principal=f"arn:aws:iam::{ACCOUNT}:role/shadow", raw_principal="x")
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason) == ("unauthorized_path", "unknown_identity")
    assert "shadow" in decision.explanation


def test_unknown_service_account_is_a_shadow_identity(baseline):
    event = make_event(
        system="k8s",
        source="k8s_audit",
        principal="system:serviceaccount:x:y",
        raw_principal="system:serviceaccount:x:y",
        principal_kind=ev.K8S_SERVICE_ACCOUNT,
    )
    assert judge(event, baseline).reason == "unknown_identity"


def test_decommissioned_identity_is_unauthorized_whatever_it_did(baseline):
    for outcome in ("success", "denied"):
        event = make_event(
            principal=f"arn:aws:iam::{ACCOUNT}:role/old-batch",
            action="s3:GetObject",
            resource="arn:aws:s3:::batch/x",
            outcome=outcome,
        )
        decision = judge(event, baseline)
        assert (decision.verdict, decision.reason) == ("unauthorized_path", "decommissioned_identity")


def test_active_known_identity_passes_to_later_rules(baseline):
    assert judge(make_event(), baseline).reason == "matched_entitlement"
