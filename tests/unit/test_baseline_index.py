"""The compiled baseline index the verdict rules query per event (SPEC §4-§6)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from enricher.core.baseline import CompiledBaseline, apply_changes, compile_baseline, paused_gc
from enricher.core.baseline_file import load_baseline_file
from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity
from enricher.core.synthetic import generate_baseline

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "baselines"


@pytest.fixture(scope="module")
def doc() -> BaselineDocument:
    return load_baseline_file(DATA / "index.yaml")


@pytest.fixture()
def cb(doc: BaselineDocument) -> CompiledBaseline:
    return compile_baseline(doc, version=42)


def ids(found: object) -> list[str]:
    return [c.entitlement.id for c in found]  # type: ignore[attr-defined]


def entitlement(cb: CompiledBaseline, identity_id: str, entitlement_id: str, system: str, action: str):  # type: ignore[no-untyped-def]
    (found,) = [c for c in cb.candidates(identity_id, system, action) if c.entitlement.id == entitlement_id]
    return found


# -------------------------------------------------------------------------------------- snapshot


def test_snapshot_facts(cb: CompiledBaseline, doc: BaselineDocument) -> None:
    assert cb.version == 42
    assert cb.entitlement_count == sum(len(i.entitlements) for i in doc.identities) == 15
    assert list(cb.identities) == [i.id for i in doc.identities]
    assert cb.settings is doc.settings
    with pytest.raises(TypeError):
        cb.identities["x"] = doc.identities[0]  # type: ignore[index]


# --------------------------------------------------------------------------------------- aliases


def test_resolve_exact_aliases(cb: CompiledBaseline) -> None:
    assert cb.resolve_alias("arn:aws:iam::111122223333:role/payments-api").id == "payments-api"  # type: ignore[union-attr]
    assert cb.resolve_alias("system:serviceaccount:payments:api").id == "payments-api"  # type: ignore[union-attr]
    assert cb.resolve_alias("arn:aws:iam::111122223333:user/old-batch").id == "old-batch"  # type: ignore[union-attr]
    assert cb.resolve_alias("arn:aws:iam::111122223333:role/unknown") is None
    assert cb.resolve_alias("payments-api") is None  # identity ids are not aliases
    assert cb.resolve_alias("ARN:AWS:IAM::111122223333:ROLE/PAYMENTS-API") is None  # case-sensitive


@pytest.mark.parametrize(
    ("key", "identity"),
    [
        ("spiffe://cluster.local/ns/payments/sa/api", "payments-api"),  # listed with the scheme
        ("cluster.local/ns/payments/sa/api", "payments-api"),
        ("cluster.local/ns/ci/sa/runner", "ci-runner"),  # listed without the scheme
        ("spiffe://cluster.local/ns/ci/sa/runner", "ci-runner"),
    ],
)
def test_spiffe_aliases_match_with_and_without_scheme(cb: CompiledBaseline, key: str, identity: str) -> None:
    found = cb.resolve_alias(key)
    assert found is not None and found.id == identity


@pytest.mark.parametrize(
    ("key", "identity"),
    [
        ("arn:aws:iam::444455556666:role/ci-build", "ci-runner"),  # first pattern in file order wins
        ("arn:aws:iam::444455556666:role/terraform", "tooling-catch-all"),
        ("arn:aws:iam::444455556666:role/ci-special", "ci-special"),  # exact beats an earlier pattern
        ("arn:aws:iam::999999999999:role/agent-triage", "agents"),
        ("arn:aws:iam::999999999999:role/agent-", "agents"),
        ("arn:aws:iam::999999999999:role/other", None),
    ],
)
def test_alias_patterns(cb: CompiledBaseline, key: str, identity: str | None) -> None:
    for _ in range(2):  # the second lookup is answered from the memo
        found = cb.resolve_alias(key)
        assert (found.id if found else None) == identity


def test_out_of_scope_patterns(cb: CompiledBaseline) -> None:
    assert cb.is_out_of_scope("arn:aws:iam::123456789012:role/aws-service-role/support.amazonaws.com/X")
    assert cb.is_out_of_scope("system:node:ip-10-0-0-1.ec2.internal")
    assert not cb.is_out_of_scope("arn:aws:iam::123456789012:role/AWS-SERVICE-ROLE/x")
    assert not cb.is_out_of_scope("system:serviceaccount:payments:api")
    empty = compile_baseline(BaselineDocument(identities=()), 1)
    assert not empty.is_out_of_scope("anything")


# ---------------------------------------------------------------------------------- candidates


def test_candidates_by_exact_action(cb: CompiledBaseline) -> None:
    assert ids(cb.candidates("payments-api", "aws", "s3:PutObject")) == ["receipts-rw"]
    assert ids(cb.candidates("payments-api", "k8s", "watch")) == ["config"]
    assert ids(cb.candidates("payments-api", "mesh", "GET")) == ["orders"]
    assert ids(cb.candidates("payments-api", "aws", "s3:DeleteObject")) == []


def test_aws_actions_are_case_insensitive_others_are_not(cb: CompiledBaseline) -> None:
    assert ids(cb.candidates("payments-api", "aws", "S3:PUTOBJECT")) == ["receipts-rw"]
    assert ids(cb.candidates("payments-api", "aws", "EC2:describeinstances")) == ["describe"]
    assert ids(cb.candidates("payments-api", "k8s", "GET")) == []
    assert ids(cb.candidates("payments-api", "mesh", "get")) == []


def test_wildcard_actions_follow_exact_ones_without_duplicates(cb: CompiledBaseline) -> None:
    assert ids(cb.candidates("payments-api", "aws", "s3:GetObject")) == ["receipts-rw", "public-read"]
    assert ids(cb.candidates("payments-api", "aws", "s3:GetBucketPolicy")) == ["public-read"]
    assert ids(cb.candidates("ci-runner", "aws", "ecr:PutImage")) == ["push"]
    # an entitlement listing an action exactly and by a wildcard appears once
    doc = BaselineDocument(
        identities=(
            Identity(
                "x",
                "workload",
                "o",
                "p",
                entitlements=(Entitlement("both", "aws", ("s3:GetObject", "s3:*"), ("*",)),),
            ),
        )
    )
    assert ids(compile_baseline(doc, 1).candidates("x", "aws", "s3:GetObject")) == ["both"]


def test_candidates_for_unknown_identity_or_system(cb: CompiledBaseline) -> None:
    assert cb.candidates("nobody", "aws", "s3:GetObject") == ()
    assert cb.candidates("ci-runner", "k8s", "get") == ()
    assert cb.candidates("tooling-catch-all", "aws", "s3:GetObject") == ()


def test_matches_action_and_resource(cb: CompiledBaseline) -> None:
    rw = entitlement(cb, "payments-api", "receipts-rw", "aws", "s3:GetObject")
    assert rw.matches("s3:GetObject", "arn:aws:s3:::receipts-prod/2026/01/r.pdf")  # * crosses /
    assert rw.matches("S3:GETOBJECT", "arn:aws:s3:::receipts-prod/a")
    assert not rw.matches("s3:GetObject", "arn:aws:s3:::Receipts-prod/a")  # resources case-sensitive
    assert not rw.matches("s3:GetObject", "arn:aws:s3:::receipts-prod")
    assert not rw.matches("s3:DeleteObject", "arn:aws:s3:::receipts-prod/a")
    assert rw.matches_resource("arn:aws:s3:::receipts-prod/a")
    secret = entitlement(cb, "payments-api", "db-secret", "aws", "secretsmanager:GetSecretValue")
    base = "arn:aws:secretsmanager:us-east-1:111122223333:secret:payments/db-"
    assert secret.matches("secretsmanager:GetSecretValue", base + "Ab12Cd")  # ? is one character
    assert not secret.matches("secretsmanager:GetSecretValue", base + "Ab12C")
    assert not secret.matches("secretsmanager:GetSecretValue", base + "Ab12Cde")
    config = entitlement(cb, "payments-api", "config", "k8s", "get")
    assert config.matches("get", "payments/core/configmaps/app")
    assert not config.matches("GET", "payments/core/configmaps/app")
    assert not config.matches("get", "payments/core/secrets/app")


# ------------------------------------------------------------------------- windows and conditions


@pytest.mark.parametrize(
    ("when", "valid"),
    [
        (datetime(2026, 3, 1, 8, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 1, 9, tzinfo=UTC), True),  # valid_from is inclusive
        (datetime(2026, 3, 1, 16, 59, 59, 999999, tzinfo=UTC), True),
        (datetime(2026, 3, 1, 17, tzinfo=UTC), False),  # valid_until is exclusive
    ],
)
def test_validity_window(cb: CompiledBaseline, when: datetime, valid: bool) -> None:
    assert entitlement(cb, "payments-api", "jit-decrypt", "aws", "kms:Decrypt").is_valid_at(when) is valid
    assert entitlement(cb, "payments-api", "receipts-rw", "aws", "s3:PutObject").is_valid_at(when)


def test_open_ended_windows() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    only_from = Entitlement("f", "aws", ("s3:GetObject",), ("*",), valid_from=start)
    only_until = Entitlement("u", "aws", ("s3:GetObject",), ("*",), valid_until=start)
    doc = BaselineDocument((Identity("x", "workload", "o", "p", entitlements=(only_from, only_until)),))
    cands = compile_baseline(doc, 1).candidates("x", "aws", "s3:GetObject")
    assert [c.is_valid_at(datetime(2025, 12, 31, tzinfo=UTC)) for c in cands] == [False, True]
    assert [c.is_valid_at(start) for c in cands] == [True, False]


@pytest.mark.parametrize(
    ("source_ip", "allowed"),
    [
        ("10.1.2.3", True),
        ("10.255.255.255", True),
        ("11.0.0.1", False),
        ("2001:db8::42", True),
        ("2001:db9::42", False),
        ("::ffff:10.9.8.7", True),  # IPv4-mapped IPv6 is the IPv4 address
        ("10.1.2.3:54321", True),  # access logs keep the port
        ("[2001:db8::1]:443", True),
        (None, False),
        ("", False),
        ("AWS Internal", False),  # CloudTrail's non-address values
        ("s3.amazonaws.com", False),
        ("225.178.039.250", False),  # anonymised, not a valid address
    ],
)
def test_source_cidr_conditions(cb: CompiledBaseline, source_ip: str | None, allowed: bool) -> None:
    secret = entitlement(cb, "payments-api", "db-secret", "aws", "secretsmanager:GetSecretValue")
    assert secret.source_allowed(source_ip) is allowed
    unconditioned = entitlement(cb, "payments-api", "receipts-rw", "aws", "s3:PutObject")
    assert unconditioned.source_allowed(source_ip)


# ----------------------------------------------------------------------------------- boundaries


def test_holds_system(cb: CompiledBaseline) -> None:
    assert cb.holds_system("payments-api", "aws") and cb.holds_system("payments-api", "mesh")
    assert not cb.holds_system("ci-runner", "k8s")
    assert not cb.holds_system("tooling-catch-all", "aws")  # holds no entitlement at all
    assert not cb.holds_system("nobody", "aws")


@pytest.mark.parametrize(
    ("identity", "system", "boundary", "covered"),
    [
        ("payments-api", "aws", "111122223333", True),  # S3 ARN (no account) + '*': its role's account
        ("payments-api", "aws", "444455556666", True),  # the deployer role ARN's account
        ("payments-api", "aws", "777788889999", True),  # the KMS key's account (expired or not)
        ("payments-api", "aws", "000000000000", False),
        ("log-shipper", "aws", "111122223333", False),  # S3 only and no IAM alias: no account
        ("ci-runner", "aws", "444455556666", True),  # '*' resource: the alias pattern's account
        ("ci-runner", "aws", "111122223333", False),
        ("agents", "aws", "123456789012", True),  # own account is the pattern '*'
        ("payments-api", "k8s", "payments", True),
        ("payments-api", "k8s", "_cluster", True),
        ("payments-api", "k8s", "kube-system", False),
        ("log-shipper", "k8s", "kube-system", True),  # '*/core/pods/*' reaches every namespace
        ("log-shipper", "k8s", "_cluster", True),
        ("payments-api", "mesh", "orders.orders.svc.cluster.local", True),
        ("payments-api", "mesh", "ledger.ledger.svc.cluster.local", False),
        ("ci-special", "mesh", "vault.tools.svc.cluster.local", True),  # host pattern
        ("ci-special", "mesh", "vault.prod.svc.cluster.local", False),
        ("payments-api", "mesh", "ORDERS.orders.svc.cluster.local", False),
        ("ci-runner", "k8s", "ci", False),  # no k8s entitlement at all
        ("nobody", "aws", "111122223333", False),
    ],
)
def test_covers_boundary(
    cb: CompiledBaseline, identity: str, system: str, boundary: str, covered: bool
) -> None:
    assert cb.covers_boundary(identity, system, boundary) is covered


def test_entitlement_level_boundaries(cb: CompiledBaseline) -> None:
    rw = entitlement(cb, "payments-api", "receipts-rw", "aws", "s3:GetObject")
    assert rw.covers_boundary("111122223333") and not rw.covers_boundary("444455556666")
    deploy = entitlement(cb, "payments-api", "deploy-elsewhere", "aws", "sts:AssumeRole")
    assert deploy.covers_boundary("444455556666") and not deploy.covers_boundary("111122223333")
    nodes = entitlement(cb, "payments-api", "nodes", "k8s", "list")
    assert nodes.covers_boundary("_cluster") and not nodes.covers_boundary("payments")


# ------------------------------------------------------------------------------------- nearest


def test_nearest_prefers_same_action_then_resource_then_service(cb: CompiledBaseline) -> None:
    def near(system: str, action: str, resource: str, identity: str = "payments-api") -> str | None:
        found = cb.nearest(identity, system, action, resource)
        return found.entitlement.id if found else None

    assert near("aws", "s3:PutObject", "arn:aws:s3:::other-bucket/x") == "receipts-rw"  # same action
    assert near("aws", "s3:DeleteObject", "arn:aws:s3:::receipts-prod/x") == "receipts-rw"  # same resource
    assert (
        near("aws", "kms:Encrypt", "arn:aws:kms:us-east-1:111122223333:key/zzz") == "jit-decrypt"
    )  # service
    # a bare '*' resource is no resemblance: nothing shared, so the first aws entitlement by id
    # (by id, not file order, so a baseline from a file and from the store name the same one)
    assert near("aws", "iam:CreateUser", "arn:aws:iam::111122223333:user/x") == "db-secret"
    assert near("k8s", "delete", "payments/core/pods/web-1") == "config"  # same namespace
    assert near("k8s", "delete", "_cluster/core/nodes/n1") == "nodes"
    assert near("mesh", "POST", "ledger.ledger.svc.cluster.local/api") == "orders"  # the first of the system
    assert near("k8s", "get", "x", identity="ci-runner") is None
    assert near("aws", "s3:GetObject", "x", identity="nobody") is None


# ------------------------------------------------------------------------------- apply_changes


def _probes(*docs: BaselineDocument) -> Iterator[tuple[str, str, str, str]]:
    for doc in docs:
        for identity in doc.identities:
            for ent in identity.entitlements:
                action = ent.actions[0].replace("*", "Thing").replace("?", "x")
                yield identity.id, ent.system, action, ent.resources[0].replace("*", "x").replace("?", "y")


def _view(cb: CompiledBaseline, *docs: BaselineDocument) -> dict[str, object]:
    """Everything observable about a snapshot, over probes drawn from the documents."""
    aliases = {a for d in docs for i in d.identities for a in i.aliases} | {
        "arn:aws:iam::111122223333:role/never",
        "arn:aws:iam::444455556666:role/ci-anything",
    }
    resolved = {}
    for alias in sorted(aliases):
        found = cb.resolve_alias(alias.replace("*", "zz"))
        resolved[alias] = found.id if found else None
    queries = {}
    for iid, system, action, resource in _probes(*docs):
        queries[(iid, system, action, resource)] = (
            ids(cb.candidates(iid, system, action)),
            cb.holds_system(iid, system),
            [cb.covers_boundary(iid, system, b) for b in ("111122223333", "payments", "risk", "_cluster")],
            getattr(cb.nearest(iid, system, action, resource), "entitlement", None),
        )
    return {
        "identities": list(cb.identities.items()),
        "count": cb.entitlement_count,
        "settings": cb.settings,
        "version": cb.version,
        "aliases": resolved,
        "queries": queries,
        "out_of_scope": [cb.is_out_of_scope(a) for a in sorted(aliases)],
    }


def test_apply_changes_equals_a_full_compile() -> None:
    doc = generate_baseline(120, 6, seed=11)
    base = compile_baseline(doc, 1)
    rnd = random.Random(5)
    changed = rnd.sample(list(doc.identities), 10)
    upserts = [
        replace(i, owner="team-new", entitlements=i.entitlements[: rnd.randrange(len(i.entitlements) + 1)])
        for i in changed[:5]
    ]
    upserts.append(
        replace(doc.identities[7], aliases=(*doc.identities[7].aliases, "arn:aws:iam::*:role/x-*"))
    )
    upserts += [
        Identity(
            "brand-new",
            "agent",
            "team-ai",
            "New agent",
            aliases=("arn:aws:iam::444455556666:role/ci-*", "spiffe://cluster.local/ns/ai/sa/brand-new"),
            entitlements=(Entitlement("invoke", "aws", ("bedrock:Invoke*",), ("*",)),),
        )
    ]
    deletes = [i.id for i in changed[5:]] + ["not-there"]
    settings = BaselineSettings(out_of_scope=("arn:aws:iam::111122223333:*",), unused_after_days=9)
    before = _view(base, doc)

    incremental = apply_changes(base, upserts, deletes, settings, 2)

    survivors = {i.id: i for i in doc.identities if i.id not in deletes}
    survivors.update((u.id, u) for u in upserts)
    changed_doc = BaselineDocument(tuple(survivors.values()), settings)
    full = compile_baseline(changed_doc, 2)
    assert _view(incremental, doc, changed_doc) == _view(full, doc, changed_doc)
    assert incremental.resolve_alias(changed[6].aliases[0]) is None  # deleted
    assert incremental.resolve_alias("arn:aws:iam::444455556666:role/ci-x").id == "brand-new"  # type: ignore[union-attr]
    assert _view(base, doc) == before  # the base snapshot is untouched


def test_apply_changes_keeps_settings_when_none_and_replaces_in_place(doc: BaselineDocument) -> None:
    base = compile_baseline(doc, 1)
    renamed = replace(doc.identities[0], aliases=("arn:aws:iam::111122223333:role/payments-v2",))
    after = apply_changes(base, [renamed], [], None, 2)
    assert after.settings is base.settings and after.version == 2
    assert list(after.identities) == list(base.identities)
    assert after.resolve_alias("arn:aws:iam::111122223333:role/payments-api") is None
    assert after.resolve_alias("arn:aws:iam::111122223333:role/payments-v2") is renamed
    assert after.covers_boundary("payments-api", "aws", "111122223333")


def test_apply_changes_with_an_alias_clash_matches_the_full_compile(doc: BaselineDocument) -> None:
    base = compile_baseline(doc, 1)
    thief = Identity("thief", "workload", "o", "p", aliases=("arn:aws:iam::111122223333:role/payments-api",))
    after = apply_changes(base, [thief], [], None, 2)
    full = compile_baseline(replace(doc, identities=(*doc.identities, thief)), 2)
    assert after.resolve_alias("arn:aws:iam::111122223333:role/payments-api").id == "payments-api"  # type: ignore[union-attr]
    assert _view(after, doc) == _view(full, doc)
    # and a later change on that snapshot still equals the full compile
    again = apply_changes(after, [], ["payments-api"], None, 3)
    expected = compile_baseline(replace(doc, identities=(*doc.identities[1:], thief)), 3)
    assert again.resolve_alias("arn:aws:iam::111122223333:role/payments-api").id == "thief"  # type: ignore[union-attr]
    assert _view(again, doc) == _view(expected, doc)


def test_duplicate_ids_keep_the_last_record_like_an_upsert(doc: BaselineDocument) -> None:
    second = replace(doc.identities[0], owner="team-second")
    cb = compile_baseline(replace(doc, identities=(*doc.identities, second)), 1)
    assert cb.identities["payments-api"].owner == "team-second"
    assert next(iter(cb.identities)) == "payments-api"


def test_warm_compiles_everything_without_changing_answers(doc: BaselineDocument) -> None:
    lazy = compile_baseline(doc, 1)
    warm = compile_baseline(doc, 1).warm()
    assert _view(lazy, doc) == _view(warm, doc)


def test_synthetic_baseline_queries() -> None:
    doc = generate_baseline(50, 8, seed=2)
    cb = compile_baseline(doc, 1)
    assert cb.entitlement_count == 400
    hits = 0
    for iid, system, action, resource in _probes(doc):
        found = [c for c in cb.candidates(iid, system, action) if c.matches(action, resource)]
        hits += bool(found)
    assert hits == 400  # every entitlement matches an event built from it


def test_paused_gc_restores_the_collector() -> None:
    import gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before, it stays off
    finally:
        gc.enable()


def test_unvalidated_bad_cidr_never_raises_at_query_time() -> None:
    bad = Entitlement(
        "e", "aws", ("s3:GetObject",), ("*",), conditions=Conditions(("10.0.0.0/33", "10.0.0.0/8"))
    )
    doc = BaselineDocument((Identity("x", "workload", "o", "p", entitlements=(bad,)),))
    (found,) = compile_baseline(doc, 1).candidates("x", "aws", "s3:GetObject")
    assert found.source_allowed("10.1.1.1")
    assert not found.source_allowed("192.168.1.1")
