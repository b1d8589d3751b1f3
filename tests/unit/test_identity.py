from dataclasses import replace

import pytest

from enricher.core import events as ev
from enricher.core.baseline import compile_baseline
from enricher.core.identity import SessionLinks, resolve_identity, spiffe_keys
from enricher.core.model import BaselineDocument, BaselineSettings, Entitlement, Identity
from tests.unit.rules.scenario import ACCOUNT, PAYMENTS_SA, build_baseline, make_event, mesh_event


@pytest.fixture(scope="module")
def baseline():
    return build_baseline()


def test_assumed_role_resolves_through_the_issuing_role(baseline):
    res = resolve_identity(make_event(), baseline, SessionLinks())
    assert res.in_scope and res.identity is not None and res.identity.id == "payments-api"


def test_spiffe_id_resolves_to_the_service_account_identity_with_or_without_prefix():
    doc = BaselineDocument(
        identities=(
            Identity(
                "w",
                "workload",
                "o",
                "p",
                aliases=(PAYMENTS_SA,),
                entitlements=(Entitlement("e", "mesh", ("GET",), ("*",)),),
            ),
        )
    )
    only_sa = compile_baseline(doc, version=1)
    for principal in (
        "spiffe://cluster.local/ns/payments/sa/api",
        "spiffe://prod.example/ns/payments/sa/api",
    ):
        res = resolve_identity(mesh_event(principal=principal), only_sa, SessionLinks())
        assert res.identity is not None and res.identity.id == "w"


def test_spiffe_keys_forms():
    assert spiffe_keys("cluster.local/ns/a/sa/b") == (
        "spiffe://cluster.local/ns/a/sa/b",
        "cluster.local/ns/a/sa/b",
        "system:serviceaccount:a:b",
    )
    assert spiffe_keys("spiffe://td/other") == ("spiffe://td/other", "td/other")


@pytest.mark.parametrize(
    "kind,principal",
    [
        (ev.AWS_SERVICE, "ec2.amazonaws.com"),
        (ev.AWS_ROOT, f"arn:aws:iam::{ACCOUNT}:root"),
        (ev.AWS_SSO, f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_123"),
        (ev.K8S_USER, "alice@example.com"),
        (ev.K8S_SYSTEM, "system:node:ip-10-0-0-1"),
    ],
)
def test_human_and_platform_principals_are_out_of_scope_unless_aliased(baseline, kind, principal):
    res = resolve_identity(
        make_event(principal=principal, principal_kind=kind, raw_principal=principal),
        baseline,
        SessionLinks(),
    )
    assert not res.in_scope and res.scope_reason == kind


def test_an_alias_pulls_a_human_principal_into_scope():
    doc = BaselineDocument(identities=(Identity("bot", "agent", "o", "p", aliases=("alice@example.com",)),))
    res = resolve_identity(
        make_event(principal="alice@example.com", principal_kind=ev.K8S_USER),
        compile_baseline(doc, version=1),
        SessionLinks(),
    )
    assert res.in_scope and res.identity is not None


def test_out_of_scope_patterns(baseline):
    role = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ops.amazonaws.com/AWSServiceRoleForOps"
    res = resolve_identity(make_event(principal=role, raw_principal=role), baseline, SessionLinks())
    assert not res.in_scope and res.scope_reason == "pattern"


def test_unattributed_mesh_line_is_out_of_scope_unless_identity_required(baseline):
    line = mesh_event(principal="", principal_kind=ev.UNATTRIBUTED, raw_principal="10.0.0.9")
    assert not resolve_identity(line, baseline, SessionLinks()).in_scope
    strict = compile_baseline(
        BaselineDocument(identities=(), settings=BaselineSettings(mesh_require_identity=True)), version=1
    )
    res = resolve_identity(line, strict, SessionLinks())
    assert res.in_scope and res.identity is None


def test_irsa_link_puts_the_service_account_in_via_of_later_session_events(baseline):
    links = SessionLinks()
    links.remember(("ASIATEMP", "arn:aws:sts::1:assumed-role/payments-api/s"), PAYMENTS_SA)
    later = make_event(session_key="ASIATEMP")
    assert resolve_identity(later, baseline, links).via == (PAYMENTS_SA,)
    other = make_event(session_key="ASIAOTHER")
    assert resolve_identity(other, baseline, links).via == ()


def test_session_links_are_bounded():
    links = SessionLinks(capacity=3)
    for i in range(10):
        links.remember((f"k{i}",), "s")
    assert len(links) == 3
    assert links.via_for(replace(make_event(), session_key="k9")) == "s"
    assert links.via_for(replace(make_event(), session_key="k0")) is None
