"""IAM-style patterns for baseline actions, resources, aliases and boundaries.

``*`` matches any run of characters (``/`` and ``:`` included, as in IAM), ``?`` exactly one
character; everything else is literal. Patterns are compiled to the cheapest string operation that
decides them: ``==`` for plain strings, ``startswith``/``endswith`` for one trailing/leading ``*``,
a find-based glob for several ``*``, and a regex only when ``?`` appears (compiled on first use and
shared, since a 1,000,000-entitlement baseline must not hold a million compiled regexes).

Case: matchers never fold case themselves. With ``case_insensitive=True`` the *pattern* is
lowercased once at compile time and the caller passes a subject that is already lowercased
(``fold``). The baseline index does this once per event for AWS action names, which IAM matches
case-insensitively; resources, aliases and boundaries stay case-sensitive.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from typing import Final

Matcher = Callable[[str], object]
"""Called with a subject string; truthy when the subject matches."""

WILDCARDS: Final = frozenset("*?")
_STARS: Final = re.compile(r"\*{2,}")
# above this many exact strings a frozenset beats a tuple scan
_SET_THRESHOLD: Final = 8


def fold(subject: str) -> str:
    """Case-fold a subject for a case-insensitive matcher (AWS action names are ASCII)."""
    return subject.lower()


def is_pattern(text: str) -> bool:
    """True when ``text`` holds a wildcard and so is a pattern rather than a literal."""
    return "*" in text or "?" in text


def pattern_problem(pattern: object) -> str | None:
    """Say why ``pattern`` cannot be used (``None`` when it can).

    Inner spaces are allowed (S3 keys and URL paths may hold them); leading/trailing whitespace and
    control or other non-printable characters are not, since no logged action or resource has them
    and they are almost always a copy-paste accident.
    """
    if not isinstance(pattern, str):
        return f"must be a string, not {type(pattern).__name__}"
    if not pattern:
        return "is empty"
    if pattern.isprintable():
        if pattern[0] == " " or pattern[-1] == " ":
            return f"{pattern!r} has leading or trailing whitespace"
        return None
    if not pattern.strip():
        return "is only whitespace"
    bad = next(ch for ch in pattern if not ch.isprintable())
    return f"{pattern!r} contains the non-printable character U+{ord(bad):04X}"


def _match_all(subject: str) -> bool:
    return True


class _LazyRegex:
    """A ``?`` pattern's regex, compiled on first call and shared between equal patterns."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: Callable[[str], object] | None = None

    def __call__(self, subject: str) -> object:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _compile_regex(self.source)
        return compiled(subject)


_REGEX_CACHE: dict[str, Callable[[str], object]] = {}


def _compile_regex(pattern: str) -> Callable[[str], object]:
    found = _REGEX_CACHE.get(pattern)
    if found is None:
        parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
        found = re.compile("".join(parts), re.DOTALL).fullmatch
        if len(_REGEX_CACHE) < 100_000:
            _REGEX_CACHE[pattern] = found
    return found


def _glob_parts(pattern: str) -> tuple[str, str, tuple[str, ...], int]:
    pieces = pattern.split("*")
    middles = tuple(p for p in pieces[1:-1] if p)
    return pieces[0], pieces[-1], middles, len(pattern) - pattern.count("*")


def _glob_match(parts: tuple[str, str, tuple[str, ...], int], subject: str) -> bool:
    # With only ``*`` wildcards, taking the leftmost occurrence of each middle piece is exact.
    first, last, middles, min_len = parts
    if len(subject) < min_len or not subject.startswith(first) or not subject.endswith(last):
        return False
    pos, end = len(first), len(subject) - len(last)
    for piece in middles:
        found = subject.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def _normalise(pattern: str, case_insensitive: bool) -> str:
    if "**" in pattern:
        pattern = _STARS.sub("*", pattern)
    return pattern.lower() if case_insensitive else pattern


def compile_pattern(pattern: str, case_insensitive: bool = False) -> Matcher:
    """Compile one pattern to the fastest test that decides it (see the module docstring)."""
    p = _normalise(pattern, case_insensitive)
    if "?" in p:
        return _LazyRegex(p)
    stars = p.count("*")
    if stars == 0:
        return p.__eq__
    if p == "*":
        return _match_all
    if stars == 1 and p[-1] == "*":
        return operator.methodcaller("startswith", p[:-1])
    if stars == 1 and p[0] == "*":
        return operator.methodcaller("endswith", p[1:])
    parts = _glob_parts(p)
    return lambda subject: _glob_match(parts, subject)


class PatternSet:
    """Several patterns matched as one: true when any of them matches.

    Plain strings become one ``in`` test, all ``prefix*`` patterns one ``str.startswith(tuple)``
    call (a bare ``*`` is the empty prefix), all ``*suffix`` one ``str.endswith(tuple)`` call; only
    the rest are tried one by one. Slotted and small: a big baseline holds one per entitlement.
    """

    __slots__ = ("_exact", "_others", "_prefixes", "_suffixes", "patterns")

    def __init__(self, patterns: Iterable[str], case_insensitive: bool = False) -> None:
        exact: list[str] = []
        prefixes: list[str] = []
        suffixes: list[str] = []
        others: list[Matcher] = []
        self.patterns = tuple(patterns)
        for raw in self.patterns:
            p = _normalise(raw, case_insensitive)
            stars = p.count("*")
            if "?" in p or (stars > 1 or (stars == 1 and p[0] != "*" and p[-1] != "*")):
                others.append(compile_pattern(p))
            elif stars == 0:
                exact.append(p)
            elif p[-1] == "*":
                prefixes.append(p[:-1])
            else:
                suffixes.append(p[1:])
        self._exact: tuple[str, ...] | frozenset[str] = (
            frozenset(exact) if len(exact) > _SET_THRESHOLD else tuple(exact)
        )
        self._prefixes = tuple(prefixes)
        self._suffixes = tuple(suffixes)
        self._others = tuple(others)

    def __call__(self, subject: str) -> bool:
        """True when any pattern of the set matches ``subject`` (folded already if need be)."""
        if subject in self._exact:
            return True
        if self._prefixes and subject.startswith(self._prefixes):
            return True
        if self._suffixes and subject.endswith(self._suffixes):
            return True
        return any(match(subject) for match in self._others) if self._others else False

    @property
    def matches_everything(self) -> bool:
        """True when the set holds a bare ``*``."""
        return "" in self._prefixes

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"PatternSet({list(self.patterns)!r})"


def _match_none(subject: str) -> bool:
    return False


def compile_patterns(patterns: Iterable[str], case_insensitive: bool = False) -> Callable[[str], bool]:
    """Compile several patterns into one test, true when any matches.

    When all patterns are of one cheap kind the test is a single C-level call (``tuple.__contains__``,
    ``str.startswith(prefixes)``, ``str.endswith(suffixes)``) with no Python frame; the hot path
    calls it once per candidate entitlement. Mixed or ``?`` patterns get a ``PatternSet``.
    """
    pats = [_normalise(p, case_insensitive) for p in patterns]
    if not pats:
        return _match_none
    if "*" in pats:
        return _match_all
    if not any("*" in p or "?" in p for p in pats):
        found = frozenset(pats) if len(pats) > _SET_THRESHOLD else tuple(pats)
        return found.__contains__
    if "?" not in "".join(pats) and all(p.count("*") == 1 for p in pats):
        if all(p[-1] == "*" for p in pats):
            return operator.methodcaller("startswith", tuple(p[:-1] for p in pats))
        if all(p[0] == "*" for p in pats):
            return operator.methodcaller("endswith", tuple(p[1:] for p in pats))
    return PatternSet(pats)
