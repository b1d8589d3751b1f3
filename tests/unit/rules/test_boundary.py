from tests.unit.rules.scenario import judge, k8s_event, make_event, mesh_event


def test_other_aws_account_is_unapproved_system(baseline):
    event = make_event(
        account="999988887777", boundary="999988887777", resource="arn:aws:s3:::receipts-prod/x"
    )
    decision = judge(event, baseline)
    assert (decision.verdict, decision.reason) == ("unauthorized_path", "unapproved_system")
    assert "999988887777" in decision.explanation


def test_s3_entitlement_counts_for_the_identitys_own_account(baseline):
    assert judge(make_event(), baseline).reason == "matched_entitlement"


def test_other_namespace_is_unapproved_system_even_when_denied(baseline):
    event = k8s_event(
        resource="kube-system/core/secrets/admin-token",
        namespace="kube-system",
        boundary="kube-system",
        outcome="denied",
    )
    assert judge(event, baseline).reason == "unapproved_system"


def test_cluster_scoped_objects_are_their_own_boundary(baseline):
    event = k8s_event(action="list", resource="_cluster/core/nodes", namespace=None, boundary="_cluster")
    assert judge(event, baseline).reason == "unapproved_system"


def test_system_without_any_entitlement_is_unapproved(baseline):
    event = mesh_event(principal="arn:aws:iam::444455556666:role/research-agent", principal_kind="aws_role")
    decision = judge(event, baseline)
    assert decision.reason == "unapproved_system"
    assert "holds no entitlement in mesh" in decision.explanation


def test_other_mesh_host_is_unapproved(baseline):
    event = mesh_event(
        resource="billing.billing.svc.cluster.local/x", boundary="billing.billing.svc.cluster.local"
    )
    assert judge(event, baseline).reason == "unapproved_system"


def test_same_namespace_passes_the_boundary(baseline):
    event = k8s_event(action="delete", resource="payments/core/secrets/db-creds")
    assert judge(event, baseline).reason == "allowed_beyond_baseline"
