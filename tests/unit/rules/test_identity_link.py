from enricher.core import events as ev
from enricher.core.events import IdentityLink
from tests.unit.rules.scenario import ACCOUNT, PAYMENTS_ROLE, PAYMENTS_SA, judge, make_event


def irsa_event(role: str, outcome: str = "success"):
    return make_event(
        principal=PAYMENTS_SA,
        principal_kind=ev.K8S_SERVICE_ACCOUNT,
        raw_principal=PAYMENTS_SA,
        action="sts:AssumeRoleWithWebIdentity",
        resource=role,
        outcome=outcome,
        link=IdentityLink(role=role, subject=PAYMENTS_SA, session_keys=("ASIAEXAMPLE",)),
    )


def test_irsa_into_own_role_is_an_identity_link(baseline):
    decision = judge(irsa_event(PAYMENTS_ROLE), baseline)
    assert (decision.verdict, decision.reason) == ("expected", "identity_link")
    assert decision.target == PAYMENTS_ROLE


def test_assuming_another_identitys_role_is_not_a_link(baseline):
    decision = judge(irsa_event(f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"), baseline)
    assert decision.reason != "identity_link"
    assert decision.verdict == "overprivileged"


def test_failed_assume_is_not_a_link(baseline):
    decision = judge(irsa_event(PAYMENTS_ROLE, outcome="denied"), baseline)
    assert decision.reason == "denied_outside_baseline"


def test_role_assuming_itself_is_a_link(baseline):
    event = make_event(action="sts:AssumeRole", resource=PAYMENTS_ROLE, link=IdentityLink(role=PAYMENTS_ROLE))
    assert judge(event, baseline).reason == "identity_link"
