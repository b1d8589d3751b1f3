"""The baseline file format: load with line-numbered problems, dump, round trip (SPEC §5)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enricher.core.baseline_file import (
    dump_baseline,
    format_timestamp,
    load_baseline_file,
    load_baseline_text,
    parse_timestamp,
    validate_document,
)
from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity
from enricher.core.patterns import pattern_problem
from enricher.core.synthetic import generate_baseline
from enricher.errors import BaselineError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "baselines"
SAMPLE = REPO / "enricher" / "samples" / "baseline.yaml"

GOOD = """\
version: 1
identities:
  - id: payments-api
    kind: workload
    owner: team-payments
    purpose: Serves the payments API
    aliases:
      - arn:aws:iam::111122223333:role/payments-api
    entitlements:
      - id: receipts-rw
        system: aws
        actions: [s3:GetObject, s3:PutObject]
        resources: ["arn:aws:s3:::receipts-prod/*"]
"""
# line numbers in GOOD:       3: "- id: payments-api"   10: "- id: receipts-rw"
#   11: system   12: actions   13: resources


def problems(text: str) -> list[tuple[int, str]]:
    """Load ``text`` expecting failure; the (line, message) of every problem."""
    with pytest.raises(BaselineError) as caught:
        load_baseline_text(textwrap.dedent(text), source="test.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


def one_problem(text: str) -> tuple[int, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


# ------------------------------------------------------------------------------------- positives


def test_good_document_loads() -> None:
    doc = load_baseline_text(GOOD)
    (identity,) = doc.identities
    assert identity.id == "payments-api" and identity.status == "active"
    assert identity.entitlements[0].actions == ("s3:GetObject", "s3:PutObject")
    assert identity.entitlements[0].conditions == Conditions()
    assert doc.settings == BaselineSettings()


def test_valid_sample_file_loads_every_field() -> None:
    doc = load_baseline_file(DATA / "valid.yaml")
    payments, ci, old = doc.identities
    rw = payments.entitlements[0]
    assert rw.conditions.source_cidrs == ("10.0.0.0/8", "2001:db8::/32")
    assert rw.valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    # a quoted timestamp with an offset is converted to UTC
    assert rw.valid_until == datetime(2026, 12, 30, 22, tzinfo=UTC)
    assert rw.valid_until is not None and rw.valid_until.tzinfo is UTC
    assert (rw.approved_by, rw.ticket) == ("alice", "SEC-123")
    assert payments.entitlements[3].ticket == "4711"  # a plain number is the text of a string field
    assert ci.entitlements == () and ci.aliases[1] == "arn:aws:iam::444455556666:role/ci-*"
    assert old.status == "decommissioned"
    assert doc.settings == BaselineSettings(("arn:aws:iam::*:role/aws-service-role/*",), True, 14)


def test_demo_sample_loads_and_round_trips() -> None:
    doc = load_baseline_file(SAMPLE)
    assert len(doc.identities) >= 8
    assert {i.kind for i in doc.identities} >= {"workload", "ci_pipeline", "agent", "k8s_service_account"}
    assert any(i.status == "decommissioned" for i in doc.identities)
    assert any(e.valid_until for i in doc.identities for e in i.entitlements)
    assert any(e.conditions.source_cidrs for i in doc.identities for e in i.entitlements)
    assert load_baseline_text(dump_baseline(doc)) == doc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ('"2026-01-01T02:00:00+02:00"', datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01 00:00:00.250Z", datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-01t00:00:00z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("'2025-12-31T19:00:00-05:00'", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_quoted_or_not_become_aware_utc(value: str, expected: datetime) -> None:
    doc = load_baseline_text(edit('resources: ["arn', f'valid_from: {value}\n        resources: ["arn'))
    assert doc.identities[0].entitlements[0].valid_from == expected


def test_parse_timestamp_accepts_aware_datetimes_only() -> None:
    plus2 = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert parse_timestamp(plus2) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="no timezone"):
        parse_timestamp(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="not int"):
        parse_timestamp(20260101)
    assert format_timestamp(plus2) == "2026-01-01T00:00:00Z"
    assert format_timestamp(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == "2026-01-01T00:00:00.000005Z"


# ------------------------------------------------------------------------------------- negatives


def test_yaml_syntax_error_carries_the_yaml_line() -> None:
    line, message = one_problem(edit("actions: [s3:GetObject, s3:PutObject]", "actions: [s3:GetObject"))
    assert message.startswith("YAML syntax error")
    assert line in (12, 13)  # libyaml reports where it noticed: the token after the open list
    line, message = one_problem("version: 1\nidentities:\n  - id: a\n\tkind: workload\n")
    assert (line, message.startswith("YAML syntax error")) == (4, True)


def test_empty_and_non_mapping_documents() -> None:
    assert one_problem("") == (1, "the document is empty")
    assert one_problem("# only a comment\n") == (1, "the document is empty")
    assert one_problem("- a\n- b\n") == (1, "the document must be a mapping")
    line, message = one_problem("version: 1\nidentities: []\n---\nversion: 1\n")
    assert message.startswith("YAML syntax error") and line == 3


def test_version() -> None:
    assert one_problem(edit("version: 1", "version: 2")) == (
        1,
        "unsupported version 2 (this release reads version 1)",
    )
    assert one_problem(edit("version: 1", 'version: "1"')) == (1, "version must be an integer")
    assert one_problem(edit("version: 1\n", "")) == (1, "the document is missing required key 'version'")


def test_unknown_keys_everywhere() -> None:
    assert one_problem(GOOD + "metadata: {}\n") == (
        14,
        "unknown key 'metadata' in the document (expected one of identities, settings, version)",
    )
    line, message = one_problem(edit("owner: team-payments", "owner: team-payments\n    team: payments"))
    assert (line, message.startswith("unknown key 'team' in an identity")) == (6, True)
    line, message = one_problem(edit("system: aws", "system: aws\n        effect: Allow"))
    assert line == 12 and "unknown key 'effect'" in message and "entitlement" in message
    line, message = one_problem(GOOD + "settings:\n  colour: blue\n")
    assert (line, message.startswith("unknown key 'colour' in settings")) == (15, True)


def test_duplicate_mapping_keys() -> None:
    line, message = one_problem(edit("owner: team-payments", "owner: team-payments\n    owner: team-x"))
    assert (line, message) == (6, "duplicate key 'owner' in an identity")


@pytest.mark.parametrize("key", ["id", "kind", "owner", "purpose"])
def test_missing_identity_keys_point_at_the_identity(key: str) -> None:
    lines = GOOD.splitlines(keepends=True)
    index = {"id": 2, "kind": 3, "owner": 4, "purpose": 5}[key]
    removed = lines[:index] + lines[index + 1 :]
    if key == "id":  # the list item now starts at "kind:"
        removed[2] = removed[2].replace("    kind", "  - kind")
    line, message = one_problem("".join(removed))
    assert line == 3
    assert message.endswith(f"is missing required key {key!r}")


@pytest.mark.parametrize("key", ["id", "system", "actions", "resources"])
def test_missing_entitlement_keys_point_at_the_entitlement(key: str) -> None:
    lines = GOOD.splitlines(keepends=True)
    index = {"id": 9, "system": 10, "actions": 11, "resources": 12}[key]
    removed = lines[:index] + lines[index + 1 :]
    if key == "id":
        removed[9] = removed[9].replace("        system", "      - system")
    line, message = one_problem("".join(removed))
    assert line == 10
    assert message.endswith(f"is missing required key {key!r}")


def test_identities_required_and_a_list() -> None:
    assert one_problem("version: 1\n") == (1, "the document is missing required key 'identities'")
    assert one_problem("version: 1\nidentities: {}\n") == (2, "identities must be a list")
    assert load_baseline_text("version: 1\nidentities: []\n").identities == ()


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("owner: team-payments", "owner: [team-payments]", 5, "owner must be a string"),
        ("purpose: Serves the payments API", "purpose:", 6, "purpose has no value"),
        ("purpose: Serves the payments API", "purpose: null", 6, "purpose has no value"),
        ("owner: team-payments", "owner: yes", 5, "not the boolean yes (quote it)"),
        (
            "aliases:\n      - arn:aws:iam::111122223333:role/payments-api",
            "aliases: arn:x",
            7,
            "must be a list",
        ),
        ("actions: [s3:GetObject, s3:PutObject]", "actions: s3:GetObject", 12, "actions must be a list"),
        ("actions: [s3:GetObject, s3:PutObject]", "actions: []", 12, "actions must not be empty"),
        ('resources: ["arn:aws:s3:::receipts-prod/*"]', "resources: [[a]]", 13, "must be a string"),
        ("- id: receipts-rw", "- id: 'receipts-rw '", 10, "leading or trailing whitespace"),
    ],
)
def test_wrong_types(old: str, new: str, line: int, fragment: str) -> None:
    found = problems(edit(old, new))
    assert any(ln == line and fragment in msg for ln, msg in found), found


def test_entitlements_must_be_a_list_of_mappings() -> None:
    head = GOOD.split("    entitlements:\n")[0]
    assert one_problem(head + "    entitlements: {id: receipts-rw}\n") == (
        9,
        "identity 'payments-api': entitlements must be a list",
    )
    assert one_problem(head + "    entitlements:\n      - receipts-rw\n") == (
        10,
        "identity 'payments-api': an entitlement must be a mapping",
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("kind: workload", "kind: robot", 4, "kind 'robot' is not one of aws_role"),
        ("kind: workload", "kind: workload\n    status: retired", 5, "status 'retired' is not one of active"),
        ("system: aws", "system: gcp", 11, "system 'gcp' is not one of aws, k8s, mesh"),
    ],
)
def test_bad_enum_values(old: str, new: str, line: int, fragment: str) -> None:
    found_line, message = one_problem(edit(old, new))
    assert found_line == line and fragment in message


def test_duplicate_identity_ids() -> None:
    second = GOOD.split("identities:\n", 1)[1].replace("role/payments-api", "role/other")
    line, message = one_problem(GOOD + second)
    assert (line, message) == (14, "duplicate identity id 'payments-api' (first defined on line 3)")


def test_duplicate_entitlement_ids_within_one_identity_only() -> None:
    entitlement = GOOD.split("entitlements:\n", 1)[1]
    line, message = one_problem(GOOD + entitlement)
    assert line == 14 and "duplicate entitlement id (first defined on line 10)" in message
    # the same entitlement id under another identity is fine
    other = GOOD.split("identities:\n", 1)[1].replace("payments-api", "orders-api")
    assert len(load_baseline_text(GOOD + other).identities) == 2


def test_alias_listed_twice_or_by_two_identities() -> None:
    line, message = one_problem(
        edit(
            "      - arn:aws:iam::111122223333:role/payments-api\n",
            "      - arn:aws:iam::111122223333:role/payments-api\n      - arn:aws:iam::111122223333:role/payments-api\n",
        )
    )
    assert line == 9 and "is already listed by this identity on line 8" in message
    other = GOOD.split("identities:\n", 1)[1].replace("id: payments-api", "id: orders-api")
    line, message = one_problem(GOOD + other)
    assert line == 19 and "already listed by identity 'payments-api' on line 8" in message


def test_spiffe_alias_with_and_without_scheme_collide() -> None:
    text = edit(
        "      - arn:aws:iam::111122223333:role/payments-api\n",
        "      - spiffe://cluster.local/ns/payments/sa/api\n      - cluster.local/ns/payments/sa/api\n",
    )
    line, message = one_problem(text)
    assert line == 9 and "already listed" in message


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("actions: [s3:GetObject, s3:PutObject]", 'actions: [" s3:GetObject"]', 12, "leading or trailing"),
        ("actions: [s3:GetObject, s3:PutObject]", 'actions: ["s3:Get\\tObject"]', 12, "U+0009"),
        ("actions: [s3:GetObject, s3:PutObject]", "actions: [s3GetObject]", 12, "SERVICE:ACTION"),
        ('resources: ["arn:aws:s3:::receipts-prod/*"]', 'resources: [""]', 13, "resource is empty"),
        ('resources: ["arn:aws:s3:::receipts-prod/*"]', "resources: [receipts-prod/*]", 13, "must be an ARN"),
        ("      - arn:aws:iam::111122223333:role/payments-api", '      - "arn:x "', 8, "leading or trailing"),
        ("version: 1", 'version: 1\nsettings: {out_of_scope: [""]}', 2, "out_of_scope: is empty"),
    ],
)
def test_bad_patterns(old: str, new: str, line: int, fragment: str) -> None:
    found = problems(edit(old, new))
    assert any(ln == line and fragment in msg for ln, msg in found), found


def test_system_specific_action_spelling() -> None:
    k8s = edit("system: aws", "system: k8s").replace('["arn:aws:s3:::receipts-prod/*"]', "[payments/*]")
    k8s = k8s.replace("[s3:GetObject, s3:PutObject]", "[get, List]")
    assert one_problem(k8s) == (
        12,
        "identity 'payments-api', entitlement 'receipts-rw': actions: k8s action 'List' must be a lower-case "
        "verb (get, list, create ...)",
    )
    mesh = k8s.replace("system: k8s", "system: mesh").replace("[get, List]", "[GET, post]")
    line, message = one_problem(mesh)
    assert line == 12 and "mesh action 'post' must be an upper-case HTTP method" in message


@pytest.mark.parametrize(
    ("dates", "line", "fragment"),
    [
        ("valid_from: 2026-01-01T00:00:00", 14, "has no timezone"),
        ("valid_from: 2026-01-01", 14, "is not an RFC 3339 timestamp"),
        ("valid_from: soon", 14, "is not an RFC 3339 timestamp"),
        ("valid_from: 2026-13-01T00:00:00Z", 14, "is not a valid date and time (month must be in 1..12)"),
        ("valid_from: [2026]", 14, "must be a string"),
        (
            "valid_from: 2026-06-01T00:00:00Z\n        valid_until: 2026-01-01T00:00:00Z",
            15,
            "not after valid_from",
        ),
        ("valid_from: 2026-06-01T00:00:00Z\n        valid_until: 2026-06-01T02:00:00+02:00", 15, "not after"),
    ],
)
def test_bad_dates(dates: str, line: int, fragment: str) -> None:
    text = GOOD + f"        {dates}\n"
    found_line, message = one_problem(text)
    assert found_line == line and fragment in message, message


@pytest.mark.parametrize(
    ("conditions", "fragment"),
    [
        ("{source_cidrs: [10.0.0.0/33]}", "bad source CIDR '10.0.0.0/33'"),
        ("{source_cidrs: [10.0.0.1/8]}", "has host bits set"),
        ("{source_cidrs: [nonsense]}", "bad source CIDR 'nonsense'"),
        ('{source_cidrs: ["2001:db8::/129"]}', "bad source CIDR"),
        ("{source_cidrs: []}", "source_cidrs must not be empty"),
        ("{source_cidrs: 10.0.0.0/8}", "source_cidrs must be a list"),
        ("{source_ips: [10.0.0.1]}", "unknown key 'source_ips'"),
        ("[10.0.0.0/8]", "conditions must be a mapping"),
    ],
)
def test_bad_conditions(conditions: str, fragment: str) -> None:
    line, message = one_problem(GOOD + f"        conditions: {conditions}\n")
    assert line == 14 and fragment in message, message


def test_good_conditions_ipv4_and_ipv6() -> None:
    doc = load_baseline_text(
        GOOD + '        conditions: {source_cidrs: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]}\n'
    )
    assert doc.identities[0].entitlements[0].conditions.source_cidrs == (
        "10.0.0.0/8",
        "2001:db8::/32",
        "192.0.2.7",
    )


@pytest.mark.parametrize(
    ("block", "line", "fragment"),
    [
        ("settings:\n  out_of_scope: arn:*", 15, "settings.out_of_scope must be a list"),
        ("settings:\n  mesh_require_identity: 'yes'", 15, "must be true or false"),
        ("settings:\n  mesh_require_identity: maybe", 15, "must be true or false"),
        ("settings:\n  unused_after_days: 0", 15, "must be greater than 0"),
        ("settings:\n  unused_after_days: -3", 15, "must be greater than 0"),
        ("settings:\n  unused_after_days: ten", 15, "must be an integer"),
        ("settings:\n  unused_after_days: 1.5", 15, "must be an integer"),
        ("settings: [a]", 14, "settings must be a mapping"),
    ],
)
def test_bad_settings(block: str, line: int, fragment: str) -> None:
    found_line, message = one_problem(GOOD + block + "\n")
    assert found_line == line and fragment in message, message


def test_good_settings() -> None:
    doc = load_baseline_text(
        GOOD
        + "settings:\n  out_of_scope: ['system:node:*']\n  mesh_require_identity: on\n  unused_after_days: 7\n"
    )
    assert doc.settings == BaselineSettings(("system:node:*",), True, 7)


def test_every_problem_is_collected_with_its_line() -> None:
    with pytest.raises(BaselineError) as caught:
        load_baseline_file(DATA / "invalid.yaml")
    found = [(p.line, p.message.split(":")[0]) for p in caught.value.problems]
    assert [line for line, _ in found] == [1, 4, 12, 15, 16, 17, 20, 20, 21, 21, 23, 26, 28, 29]
    error = caught.value
    assert error.source.endswith("invalid.yaml")
    assert f"{error.source}:26: identity 'payments-api': alias" in str(error)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("Serves", "S\xe9rves").encode("latin-1"))
    with pytest.raises(BaselineError) as caught:
        load_baseline_file(path)
    assert caught.value.problems[0].line == 1 and "not UTF-8" in caught.value.problems[0].message


# ---------------------------------------------------------------------------------- dump / round trip


def test_dump_is_stable_and_round_trips() -> None:
    doc = load_baseline_file(DATA / "valid.yaml")
    text = dump_baseline(doc)
    assert load_baseline_text(text) == doc
    assert dump_baseline(load_baseline_text(text)) == text
    assert "valid_until: 2026-12-30T22:00:00Z" in text
    assert "actions: [s3:GetObject, s3:PutObject]" in text
    assert text.index("  kind:") < text.index("  owner:") < text.index("  purpose:")


def test_synthetic_baseline_round_trips() -> None:
    doc = generate_baseline(60, 7, seed=3)
    assert load_baseline_text(dump_baseline(doc)) == doc


def test_dump_of_an_empty_baseline() -> None:
    doc = BaselineDocument(identities=())
    assert load_baseline_text(dump_baseline(doc)) == doc


_awkward = st.one_of(
    st.sampled_from(
        ["*", "yes", "no", "null", "~", "123", "1.5", "a: b", "#x", "a #b", "x:", "-", "[a]", "'q'"]
    ),
    st.sampled_from(
        ['"dq"', "{k: v}", "&a", "!tag", "%p", "@at", "`bt`", "2026-01-01", "0x1F", ".inf", "é✓"]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
)
_pattern = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda p: pattern_problem(p) is None
)


@settings(max_examples=150, deadline=None)
@given(purpose=_awkward, owner=_awkward, ticket=_awkward, ident=_pattern, resource=_pattern, alias=_pattern)
def test_awkward_strings_round_trip(
    purpose: str, owner: str, ticket: str, ident: str, resource: str, alias: str
) -> None:
    entitlement = Entitlement(
        id=ident,
        system="mesh",
        actions=("GET",),
        resources=(resource,),
        valid_from=datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        ticket=ticket,
    )
    identity = Identity(ident, "workload", owner, purpose, aliases=(alias,), entitlements=(entitlement,))
    doc = BaselineDocument(identities=(identity,), settings=BaselineSettings(out_of_scope=(alias, "*")))
    assert load_baseline_text(dump_baseline(doc)) == doc


# ------------------------------------------------------------------------------------ model checks


def test_validate_document_on_built_records() -> None:
    doc = load_baseline_file(DATA / "valid.yaml")
    assert validate_document(doc) == []
    payments = doc.identities[0]
    bad_ent = replace(
        payments.entitlements[0],
        actions=("s3GetObject",),
        conditions=Conditions(("10.0.0.0/33",)),
        valid_until=datetime(2025, 1, 1, tzinfo=UTC),
    )
    clone = replace(payments, id="clone", kind="robot", entitlements=(bad_ent, bad_ent))
    bad = replace(
        doc, identities=(*doc.identities, clone, clone), settings=BaselineSettings(unused_after_days=0)
    )
    messages = [p.message for p in validate_document(bad)]
    assert all(p.line == 0 for p in validate_document(bad))
    for fragment in (
        "duplicate identity id 'clone'",
        "kind 'robot' is not one of",
        "alias 'arn:aws:iam::111122223333:role/payments-api' is already listed by identity 'payments-api'",
        "duplicate entitlement id 'receipts-rw'",
        "SERVICE:ACTION",
        "bad source CIDR '10.0.0.0/33'",
        "valid_until is not after valid_from",
        "unused_after_days must be greater than 0",
    ):
        assert any(fragment in m for m in messages), (fragment, messages)
    naive = replace(payments.entitlements[0], valid_from=datetime(2026, 1, 1), valid_until=None)
    doc2 = replace(doc, identities=(replace(payments, entitlements=(naive,)),))
    assert [p.message for p in validate_document(doc2)] == [
        "identity 'payments-api', entitlement 'receipts-rw': valid_from has no timezone"
    ]
