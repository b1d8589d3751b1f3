"""The project's one error tree.

    EnricherError
    ├── ParseError            a bad input record: becomes a dead letter and a counter; the loop carries on
    ├── BaselineError         a baseline file or edit that does not validate (carries line-numbered problems)
    ├── BaselineUnavailable   the baseline store cannot be reached: transient, retried with backoff
    └── ConfigError           settings that cannot work (bad URL, missing file): fail at start-up

Anything else that escapes is a bug and crashes loudly.
"""

from __future__ import annotations

from dataclasses import dataclass


class EnricherError(Exception):
    """Root of every error this project raises on purpose."""


class ParseError(EnricherError):
    """A record that cannot be turned into an event.

    ``reason`` is a short stable code (``invalid_json``, ``not_an_event`` ...) used as a metric
    label; ``detail`` is the human sentence; ``raw`` is the offending (sub-)record when the
    record was one of several in an envelope, so that exactly that part is dead-lettered.
    """

    def __init__(self, reason: str, detail: str = "", raw: object = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem in a baseline document, with the 1-based line it was found on."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class BaselineError(EnricherError):
    """A baseline that does not validate; nothing of it is applied."""

    def __init__(self, problems: list[Problem], source: str = "baseline") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"{source}:{p.line}: {p.message}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {source}:\n{lines}")


class BaselineUnavailable(EnricherError):
    """The baseline store could not be reached; callers retry with backoff."""


class ConfigError(EnricherError):
    """Settings that cannot work; raised at start-up."""
