"""IAM-style patterns: ``*`` any run (``/`` and ``:`` included), ``?`` one character, rest literal."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enricher.core.patterns import (
    PatternSet,
    compile_pattern,
    compile_patterns,
    fold,
    is_pattern,
    pattern_problem,
)


def reference(pattern: str, subject: str) -> bool:
    """The textbook translation, used as the oracle for the fast matchers."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, subject, re.DOTALL) is not None


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("arn:aws:s3:::receipts/*", "arn:aws:s3:::receipts/2026/01/r.pdf", True),  # * crosses /
        ("arn:aws:iam::*:role/deployer", "arn:aws:iam::111122223333:role/deployer", True),
        ("arn:aws:iam::*:role/deployer", "arn:aws:iam::111122223333:role/deployer-2", False),
        ("*/core/secrets/*", "payments/core/secrets/db", True),
        ("*/core/secrets/*", "payments/core/configmaps/db", False),
        ("*", "", True),
        ("*", "anything/at:all", True),
        ("secret:db-??????", "secret:db-AbC123", True),  # Secrets Manager suffix
        ("secret:db-??????", "secret:db-AbC12", False),
        ("secret:db-??????", "secret:db-AbC1234", False),
        ("a?c", "a/c", True),  # ? is any one character, / too
        ("a.c", "abc", False),  # regex metacharacters are literal
        ("a+b(c)[d]", "a+b(c)[d]", True),
        ("a+b", "aab", False),
        ("a**b", "a/x/b", True),  # ** is just *
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("ab*ba", "aba", False),  # the pieces may not overlap
        ("a*ab", "aab", True),
        ("*a*a*", "ab", False),  # two middle pieces need two occurrences
        ("*ab*ab*", "xaby", False),
        ("*ab*ab*", "abab", True),
        ("*mid*", "xmidy", True),
        ("*mid*", "xmiy", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        ("pre*", "prefix", True),
        ("pre*", "xprefix", False),
        ("*fix", "suffix", True),
        ("*fix", "suffixx", False),
    ],
)
def test_pattern_semantics(pattern: str, subject: str, expected: bool) -> None:
    assert bool(compile_pattern(pattern)(subject)) is expected
    assert compile_patterns([pattern])(subject) is expected
    assert PatternSet([pattern])(subject) is expected
    assert reference(pattern, subject) is expected


def test_case_insensitive_patterns_fold_once_and_expect_folded_subjects() -> None:
    match = compile_pattern("s3:Get*", case_insensitive=True)
    assert match(fold("S3:GETOBJECT"))
    assert match("s3:getobject")
    # the caller folds the subject; an unfolded one does not match a folded pattern
    assert not match("s3:GetObject")
    assert compile_patterns(["S3:GetObject", "kms:*"], case_insensitive=True)("s3:getobject")


def test_resources_stay_case_sensitive() -> None:
    assert not compile_pattern("arn:aws:s3:::Receipts/*")("arn:aws:s3:::receipts/a")
    assert not compile_patterns(["arn:aws:s3:::Receipts/*"])("arn:aws:s3:::receipts/a")


def test_compile_patterns_mixes_every_kind() -> None:
    match = compile_patterns(["get", "list*", "*-status", "a*b*c", "x?z"])
    for subject in ("get", "listing", "pod-status", "aXbYc", "xyz"):
        assert match(subject), subject
    for subject in ("gets", "xlist", "status-pod", "acb", "xz"):
        assert not match(subject), subject


def test_compile_patterns_edge_cases() -> None:
    assert not compile_patterns([])("anything")
    assert compile_patterns(["a", "*"])("whatever")
    many = [f"verb{n}" for n in range(20)]  # large exact sets use a frozenset
    assert compile_patterns(many)("verb17")
    assert not compile_patterns(many)("verb20")


def test_pattern_set_reports_itself() -> None:
    assert PatternSet(["*", "a"]).matches_everything
    assert not PatternSet(["a*"]).matches_everything
    assert not PatternSet([])
    assert "a*" in repr(PatternSet(["a*"]))


@settings(max_examples=400, deadline=None)
@given(
    patterns=st.lists(st.text(alphabet="ab/*?", max_size=6), min_size=1, max_size=3),
    subject=st.text(alphabet="ab/", max_size=8),
)
def test_fast_matchers_agree_with_the_reference(patterns: list[str], subject: str) -> None:
    expected = any(reference(p, subject) for p in patterns)
    assert compile_patterns(patterns)(subject) is expected
    assert PatternSet(patterns)(subject) is expected
    for p in patterns:
        assert bool(compile_pattern(p)(subject)) is reference(p, subject)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "is empty"),
        (" s3:GetObject", "leading or trailing whitespace"),
        ("s3:GetObject ", "leading or trailing whitespace"),
        ("\t\n", "is only whitespace"),
        ("s3:Get\tObject", "U+0009"),
        ("arn:aws:s3:::b/\x00", "U+0000"),
        ("a\u00a0b", "U+00A0"),
        (5, "must be a string, not int"),
    ],
)
def test_pattern_problem_says_why(pattern: object, problem: str) -> None:
    found = pattern_problem(pattern)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize("pattern", ["s3:GetObject", "*", "arn:aws:s3:::my bucket/my file.txt", "db-??????"])
def test_pattern_problem_accepts_good_patterns(pattern: str) -> None:
    assert pattern_problem(pattern) is None


def test_is_pattern() -> None:
    assert is_pattern("a*") and is_pattern("a?") and not is_pattern("arn:aws:s3:::b")
