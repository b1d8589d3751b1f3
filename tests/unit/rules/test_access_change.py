from enricher.core.events import AccessChange
from tests.unit.rules.scenario import ACCOUNT, judge, k8s_event, make_event


def test_policy_attach_by_entitled_actor_is_medium_drift_naming_the_target(baseline):
    target = f"arn:aws:iam::{ACCOUNT}:role/payments-api"
    event = make_event(
        action="iam:AttachRolePolicy", resource=target, change=AccessChange("iam_policy", target)
    )
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason) == ("drift", "access_model_change")
    assert decision.actor_entitled is True
    assert decision.entitlement == "own-policies"
    assert decision.target == target
    assert decision.target_identity == "payments-api"


def test_access_key_creation_by_unentitled_actor_is_drift_not_overprivileged(baseline):
    target = f"arn:aws:iam::{ACCOUNT}:user/bob"
    event = make_event(
        action="iam:CreateAccessKey", resource=target, change=AccessChange("access_key", target)
    )
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason) == ("drift", "access_model_change")
    assert decision.actor_entitled is False
    assert decision.target_identity is None


def test_rbac_write_in_kubernetes_is_drift(baseline):
    res = "payments/rbac.authorization.k8s.io/rolebindings/api-admin"
    event = k8s_event(action="create", resource=res, change=AccessChange("rbac", res))
    assert judge(event, baseline).reason == "access_model_change"


def test_non_change_event_is_not_drift(baseline):
    assert judge(make_event(), baseline).verdict == "expected"


def test_unknown_identity_outranks_drift(baseline):
    target = f"arn:aws:iam::{ACCOUNT}:role/payments-api"
    event = make_event(
        principal=f"arn:aws:iam::{ACCOUNT}:role/ghost",
        action="iam:AttachRolePolicy",
        change=AccessChange("iam_policy", target),
    )
    assert judge(event, baseline).reason == "unknown_identity"
