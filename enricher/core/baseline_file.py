"""The baseline file format (SPEC §5): load with line-numbered validation, and dump.

Loading composes the YAML into nodes with libyaml (``CSafeLoader``'s parser) and walks them once,
so every problem carries the 1-based line it sits on and all problems are reported together. Plain
scalars are *not* run through YAML 1.1's implicit typing (the slow part of PyYAML, and the source
of surprises such as ``no`` becoming ``False``): every field is typed by this schema instead, so a
plain ``ticket: 123`` is the text ``"123"`` while ``version: 1`` is the number 1.

The value checks shared with other entry points (API edits) live in ``validate_document``, which
runs the same rules on an already-built ``BaselineDocument`` (problems then carry line 0).
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Final

import yaml

from enricher.core.baseline import paused_gc
from enricher.core.model import (
    IDENTITY_KINDS,
    IDENTITY_STATUSES,
    SYSTEMS,
    BaselineDocument,
    BaselineSettings,
    Conditions,
    Entitlement,
    Identity,
)
from enricher.core.patterns import pattern_problem
from enricher.errors import BaselineError, Problem

FORMAT_VERSION: Final = 1
_TOP_KEYS: Final = frozenset({"version", "identities", "settings"})
_IDENTITY_KEYS: Final = frozenset({"id", "kind", "owner", "purpose", "status", "aliases", "entitlements"})
_IDENTITY_REQUIRED: Final = ("id", "kind", "owner", "purpose")
_ENTITLEMENT_KEYS: Final = frozenset(
    {
        "id",
        "system",
        "actions",
        "resources",
        "conditions",
        "valid_from",
        "valid_until",
        "approved_by",
        "ticket",
    }
)
_ENTITLEMENT_REQUIRED: Final = ("id", "system", "actions", "resources")
_CONDITION_KEYS: Final = frozenset({"source_cidrs"})
_SETTINGS_KEYS: Final = frozenset({"out_of_scope", "mesh_require_identity", "unused_after_days"})
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE: Final = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE: Final = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})
_INT: Final = re.compile(r"[+-]?[0-9]+\Z")
_RFC3339: Final = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?P<tz>[Zz]|[+-]\d\d:\d\d)?\Z", re.ASCII
)
_NO_CONDITIONS: Final = Conditions()
_S = sys.intern
_STR: Final = "tag:yaml.org,2002:str"
_TAGS: Final = {
    yaml.ScalarNode: _STR,
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
    yaml.MappingNode: "tag:yaml.org,2002:map",
}


class _Loader(yaml.CSafeLoader):
    """libyaml composition with no implicit scalar typing: the schema types every field."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _TAGS[kind]


# --------------------------------------------------------------------------------------------- values


def parse_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp (text, or a datetime YAML/JSON produced) as an aware UTC datetime.

    Raises ``ValueError`` saying why; a timestamp without a timezone is refused because a grant's
    window must not depend on the clock of the machine reading the file.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("has no timezone (add Z or an offset such as +00:00)")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 timestamp, not {type(value).__name__}")
    found = _RFC3339.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp such as 2026-01-01T00:00:00Z")
    if found["tz"] is None:
        raise ValueError(f"{value!r} has no timezone (add Z or an offset such as +00:00)")
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError as exc:  # e.g. month 13, hour 25
        raise ValueError(f"{value!r} is not a valid date and time ({exc})") from exc


def format_timestamp(when: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix (fractional seconds only when present)."""
    text = when.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def cidr_problem(cidr: object) -> str | None:
    """Say why ``cidr`` is not a usable IPv4/IPv6 network (``None`` when it is)."""
    if not isinstance(cidr, str):
        return f"source CIDR must be a string, not {type(cidr).__name__}"
    try:
        ipaddress.ip_network(cidr)
    except ValueError as exc:
        return f"bad source CIDR {cidr!r}: {exc}"
    return None


def action_problem(system: str, action: str) -> str | None:
    """Say why ``action`` can never match a canonical action of ``system`` (``None`` when it can)."""
    bad = pattern_problem(action)
    if bad is not None:
        return f"action {bad}"
    if system == "aws" and ":" not in action and action != "*":
        return f"aws action {action!r} must look like SERVICE:ACTION (e.g. s3:GetObject)"
    if system == "k8s" and action != action.lower():
        return f"k8s action {action!r} must be a lower-case verb (get, list, create ...)"
    if system == "mesh" and action != action.upper():
        return f"mesh action {action!r} must be an upper-case HTTP method or TCP"
    return None


def resource_problem(system: str, resource: str) -> str | None:
    """Say why ``resource`` is not a usable resource pattern of ``system`` (``None`` when it is)."""
    bad = pattern_problem(resource)
    if bad is not None:
        return f"resource {bad}"
    if system == "aws" and not resource.startswith(("arn:", "*")):
        return f"aws resource {resource!r} must be an ARN (arn:...) or start with *"
    return None


def _alias_key(alias: str) -> str:
    # The SPIFFE id is registered with and without its scheme, so both spellings collide.
    return alias[9:] if alias.startswith("spiffe://") else alias


# -------------------------------------------------------------------------------------- node reading


class _Reader:
    """Walks the composed node tree, building the document and collecting problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, message))

    def mapping(self, node: yaml.Node, where: str, allowed: frozenset[str]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.add(node, f"{where} must be a mapping")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key not in allowed:
                shown = repr(key) if key is not None else "a non-text key"
                self.add(
                    key_node, f"unknown key {shown} in {where} (expected one of {', '.join(sorted(allowed))})"
                )
            elif key in out:
                self.add(key_node, f"duplicate key {key!r} in {where}")
            else:
                out[key] = value_node
        return out

    def require(
        self, node: yaml.Node, fields: dict[str, yaml.Node], keys: tuple[str, ...], where: str
    ) -> None:
        for key in keys:
            if key not in fields:
                self.add(node, f"{where} is missing required key {key!r}")

    def text(self, node: yaml.Node, where: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            self.add(node, f"{where} must be a string")
            return None
        value: str = node.value
        if not node.style:
            if value in _NULLS:
                self.add(node, f"{where} has no value")
                return None
            if value in _TRUE or value in _FALSE:
                self.add(node, f"{where} must be a string, not the boolean {value} (quote it)")
                return None
        return value

    def name(self, node: yaml.Node, where: str) -> str | None:
        value = self.text(node, where)
        bad = None if value is None else pattern_problem(value)
        if bad is not None:
            self.add(node, f"{where} {bad}")
            return None
        return value

    def choice(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(node, where)
        if value is not None and value not in allowed:
            self.add(node, f"{where} {value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def texts(
        self, node: yaml.Node, where: str, check: Callable[[str], str | None], non_empty: bool = True
    ) -> list[tuple[str, yaml.Node]]:
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, f"{where} must be a list")
            return []
        if non_empty and not node.value:
            self.add(node, f"{where} must not be empty")
        out = []
        for item in node.value:
            value = self.text(item, f"an item of {where}")
            bad = None if value is None else check(value)
            if bad is not None:
                self.add(item, f"{where}: {bad}")
            elif value is not None:
                out.append((value, item))
        return out

    def integer(self, node: yaml.Node, where: str) -> int | None:
        if isinstance(node, yaml.ScalarNode) and not node.style and _INT.match(node.value):
            return int(node.value)
        self.add(node, f"{where} must be an integer")
        return None

    def boolean(self, node: yaml.Node, where: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and not node.style:
            if node.value in _TRUE:
                return True
            if node.value in _FALSE:
                return False
        self.add(node, f"{where} must be true or false")
        return None

    def timestamp(self, node: yaml.Node, where: str) -> datetime | None:
        value = self.text(node, where)
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.add(node, f"{where} {exc}")
            return None


class _DocumentReader(_Reader):
    """The baseline schema on top of the node helpers; cross-identity state lives here."""

    def __init__(self) -> None:
        super().__init__()
        self.identity_lines: dict[str, int] = {}
        self.alias_owner: dict[str, tuple[tuple[str, int], int]] = {}

    def document(self, root: yaml.Node) -> BaselineDocument:
        top = self.mapping(root, "the document", _TOP_KEYS)
        if top is None:
            return BaselineDocument(identities=())
        self.require(root, top, ("version", "identities"), "the document")
        if "version" in top:
            version = self.integer(top["version"], "version")
            if version is not None and version != FORMAT_VERSION:
                self.add(top["version"], f"unsupported version {version} (this release reads version 1)")
        identities: list[Identity] = []
        node = top.get("identities")
        if node is not None and not isinstance(node, yaml.SequenceNode):
            self.add(node, "identities must be a list")
        elif node is not None:
            for item in node.value:
                identity = self.identity(item)
                if identity is not None:
                    identities.append(identity)
        settings = self.settings(top["settings"]) if "settings" in top else BaselineSettings()
        return BaselineDocument(identities=tuple(identities), settings=settings)

    def identity(self, node: yaml.Node) -> Identity | None:
        fields = self.mapping(node, "an identity", _IDENTITY_KEYS)
        if fields is None:
            return None
        ident = self.name(fields["id"], "identity id") if "id" in fields else None
        where = f"identity {ident!r}" if ident else "an identity"
        self.require(node, fields, _IDENTITY_REQUIRED, where)
        line = node.start_mark.line + 1
        if ident is not None:
            first = self.identity_lines.setdefault(ident, line)
            if first != line:
                self.add(fields["id"], f"duplicate identity id {ident!r} (first defined on line {first})")
        kind = self.choice(fields["kind"], f"{where}: kind", IDENTITY_KINDS) if "kind" in fields else None
        owner = self.text(fields["owner"], f"{where}: owner") if "owner" in fields else None
        purpose = self.text(fields["purpose"], f"{where}: purpose") if "purpose" in fields else None
        status = (
            self.choice(fields["status"], f"{where}: status", IDENTITY_STATUSES)
            if "status" in fields
            else "active"
        )
        aliases = self.aliases(fields["aliases"], where, (ident or "", line)) if "aliases" in fields else ()
        entitlements = self.entitlements(fields["entitlements"], where) if "entitlements" in fields else ()
        if ident is None or kind is None or owner is None or purpose is None or status is None:
            return None
        return Identity(ident, _S(kind), _S(owner), _S(purpose), _S(status), aliases, entitlements)

    def aliases(self, node: yaml.Node, where: str, owner: tuple[str, int]) -> tuple[str, ...]:
        out: list[str] = []
        for alias, item in self.texts(node, f"{where}: aliases", pattern_problem, non_empty=False):
            line = item.start_mark.line + 1
            first_owner, first = self.alias_owner.setdefault(_alias_key(alias), (owner, line))
            if first != line:
                whose = "this identity" if first_owner == owner else f"identity {first_owner[0]!r}"
                self.add(item, f"{where}: alias {alias!r} is already listed by {whose} on line {first}")
            out.append(alias)
        return tuple(out)

    def entitlements(self, node: yaml.Node, where: str) -> tuple[Entitlement, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, f"{where}: entitlements must be a list")
            return ()
        seen: dict[str, int] = {}
        out: list[Entitlement] = []
        for item in node.value:
            entitlement = self.entitlement(item, where, seen)
            if entitlement is not None:
                out.append(entitlement)
        return tuple(out)

    def entitlement(self, node: yaml.Node, owner: str, seen: dict[str, int]) -> Entitlement | None:
        fields = self.mapping(node, f"{owner}: an entitlement", _ENTITLEMENT_KEYS)
        if fields is None:
            return None
        eid = self.name(fields["id"], f"{owner}: entitlement id") if "id" in fields else None
        where = f"{owner}, entitlement {eid!r}" if eid else f"{owner}: an entitlement"
        self.require(node, fields, _ENTITLEMENT_REQUIRED, where)
        if eid is not None:
            first = seen.setdefault(eid, node.start_mark.line + 1)
            if first != node.start_mark.line + 1:
                self.add(fields["id"], f"{where}: duplicate entitlement id (first defined on line {first})")
        system = self.choice(fields["system"], f"{where}: system", SYSTEMS) if "system" in fields else None
        sys_name = system or ""
        actions = resources = None
        if "actions" in fields:
            found = self.texts(fields["actions"], f"{where}: actions", lambda a: action_problem(sys_name, a))
            actions = tuple(_S(a) for a, _ in found)
        if "resources" in fields:
            found = self.texts(
                fields["resources"], f"{where}: resources", lambda r: resource_problem(sys_name, r)
            )
            resources = tuple(r for r, _ in found)
        conditions = (
            self.conditions(fields["conditions"], where) if "conditions" in fields else _NO_CONDITIONS
        )
        valid_from = (
            self.timestamp(fields["valid_from"], f"{where}: valid_from") if "valid_from" in fields else None
        )
        valid_until = (
            self.timestamp(fields["valid_until"], f"{where}: valid_until")
            if "valid_until" in fields
            else None
        )
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            self.add(fields["valid_until"], f"{where}: valid_until is not after valid_from")
        approved_by = (
            self.text(fields["approved_by"], f"{where}: approved_by") if "approved_by" in fields else None
        )
        ticket = self.text(fields["ticket"], f"{where}: ticket") if "ticket" in fields else None
        if eid is None or system is None or not actions or not resources:
            return None
        return Entitlement(
            _S(eid),
            _S(system),
            actions,
            resources,
            conditions,
            valid_from,
            valid_until,
            None if approved_by is None else _S(approved_by),
            None if ticket is None else _S(ticket),
        )

    def conditions(self, node: yaml.Node, where: str) -> Conditions:
        fields = self.mapping(node, f"{where}: conditions", _CONDITION_KEYS)
        if not fields or "source_cidrs" not in fields:
            return _NO_CONDITIONS
        cidrs = self.texts(fields["source_cidrs"], f"{where}: conditions.source_cidrs", cidr_problem)
        return Conditions(source_cidrs=tuple(c for c, _ in cidrs)) if cidrs else _NO_CONDITIONS

    def settings(self, node: yaml.Node) -> BaselineSettings:
        fields = self.mapping(node, "settings", _SETTINGS_KEYS)
        if fields is None:
            return BaselineSettings()
        default = BaselineSettings()
        out_of_scope = default.out_of_scope
        if "out_of_scope" in fields:
            found = self.texts(
                fields["out_of_scope"], "settings.out_of_scope", pattern_problem, non_empty=False
            )
            out_of_scope = tuple(p for p, _ in found)
        require = default.mesh_require_identity
        if "mesh_require_identity" in fields:
            require = self.boolean(fields["mesh_require_identity"], "settings.mesh_require_identity") or False
        days = default.unused_after_days
        if "unused_after_days" in fields:
            days_node = fields["unused_after_days"]
            value = self.integer(days_node, "settings.unused_after_days")
            if value is not None and value <= 0:
                self.add(days_node, "settings.unused_after_days must be greater than 0")
            elif value is not None:
                days = value
        return BaselineSettings(out_of_scope, require, days)


# ---------------------------------------------------------------------------------------------- load


def load_baseline_text(text: str, source: str = "<string>") -> BaselineDocument:
    """Parse and validate baseline YAML; raise ``BaselineError`` listing every problem by line."""
    with paused_gc():
        return _load(text, source)


def _load(text: str, source: str) -> BaselineDocument:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise BaselineError([Problem(line, f"YAML syntax error: {exc.problem or exc}")], source) from exc
    except yaml.YAMLError as exc:
        raise BaselineError([Problem(1, f"YAML error: {exc}")], source) from exc
    if root is None:
        raise BaselineError([Problem(1, "the document is empty")], source)
    reader = _DocumentReader()
    doc = reader.document(root)
    if reader.problems:
        raise BaselineError(sorted(reader.problems, key=lambda p: p.line), source)
    return doc


def load_baseline_file(path: str | PathLike[str]) -> BaselineDocument:
    """Read a baseline file (UTF-8) and validate it like ``load_baseline_text``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError([Problem(1, f"not UTF-8 text: {exc}")], str(file)) from exc
    return load_baseline_text(text, source=str(file))


# ------------------------------------------------------------------------------------- model checks


def _identity_problems(identity: Identity, alias_owner: dict[str, str]) -> Iterable[str]:
    where = f"identity {identity.id!r}"
    for what, value, allowed in (
        ("kind", identity.kind, IDENTITY_KINDS),
        ("status", identity.status, IDENTITY_STATUSES),
    ):
        if value not in allowed:
            yield f"{where}: {what} {value!r} is not one of {', '.join(allowed)}"
    for what, value in (("id", identity.id), ("owner", identity.owner), ("purpose", identity.purpose)):
        if not value:
            yield f"{where}: {what} has no value"
    for alias in identity.aliases:
        bad = pattern_problem(alias)
        owner = alias_owner.setdefault(_alias_key(alias), identity.id)
        if bad is not None:
            yield f"{where}: alias {bad}"
        elif owner != identity.id or alias_owner.get(f"\0{alias}") is not None:
            yield f"{where}: alias {alias!r} is already listed by identity {owner!r}"
        alias_owner[f"\0{alias}"] = identity.id
    seen: set[str] = set()
    for ent in identity.entitlements:
        if ent.id in seen:
            yield f"{where}: duplicate entitlement id {ent.id!r}"
        seen.add(ent.id)
        yield from (f"{where}, entitlement {ent.id!r}: {p}" for p in _entitlement_problems(ent))


def _entitlement_problems(ent: Entitlement) -> Iterable[str]:
    if not ent.id or pattern_problem(ent.id) is not None:
        yield f"id {pattern_problem(ent.id)}"
    if ent.system not in SYSTEMS:
        yield f"system {ent.system!r} is not one of {', '.join(SYSTEMS)}"
    if not ent.actions or not ent.resources:
        yield "actions and resources must not be empty"
    yield from filter(None, (action_problem(ent.system, a) for a in ent.actions))
    yield from filter(None, (resource_problem(ent.system, r) for r in ent.resources))
    yield from filter(None, (cidr_problem(c) for c in ent.conditions.source_cidrs))
    for what, when in (("valid_from", ent.valid_from), ("valid_until", ent.valid_until)):
        if when is not None and (when.tzinfo is None or when.utcoffset() is None):
            yield f"{what} has no timezone"
    window = (ent.valid_from, ent.valid_until)
    if all(w is not None and w.tzinfo is not None for w in window) and window[1] <= window[0]:  # type: ignore[operator]
        yield "valid_until is not after valid_from"


def validate_document(doc: BaselineDocument) -> list[Problem]:
    """The file's value rules applied to a built document (API edits); problems carry line 0."""
    messages: list[str] = []
    if doc.version != FORMAT_VERSION:
        messages.append(f"unsupported version {doc.version}")
    seen: set[str] = set()
    alias_owner: dict[str, str] = {}
    for identity in doc.identities:
        if identity.id in seen:
            messages.append(f"duplicate identity id {identity.id!r}")
        seen.add(identity.id)
        messages.extend(_identity_problems(identity, alias_owner))
    settings = doc.settings
    messages.extend(f"settings.out_of_scope: {p}" for p in map(pattern_problem, settings.out_of_scope) if p)
    if settings.unused_after_days <= 0:
        messages.append("settings.unused_after_days must be greater than 0")
    return [Problem(0, m) for m in messages]


# ---------------------------------------------------------------------------------------------- dump

# Plain (unquoted) only when every YAML 1.1 reader takes the text back as the same string: starts
# with a letter, holds no flow indicators, comment or key markers, and is not a bool/null word.
_PLAIN_FLOW: Final = re.compile(r"[A-Za-z][A-Za-z0-9_./:@+=*?%~-]*\Z")
_PLAIN_BLOCK: Final = re.compile(r"[A-Za-z][A-Za-z0-9 _./:@+=*?%~,;()'&-]*\Z")
_RESERVED: Final = _NULLS | _TRUE | _FALSE | {"y", "Y", "n", "N"}


def _scalar(text: str, flow: bool = False) -> str:
    plain = _PLAIN_FLOW if flow else _PLAIN_BLOCK
    if (
        plain.match(text)
        and text not in _RESERVED
        and text[-1] not in " :"
        and ": " not in text
        and " #" not in text
    ):
        return text
    if text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return yaml.dump(text, Dumper=yaml.CSafeDumper, width=1 << 20).removesuffix("\n...\n").rstrip("\n")


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(_scalar(i, flow=True) for i in items) + "]"


def _entitlement_lines(ent: Entitlement, out: list[str]) -> None:
    out.append(f"  - id: {_scalar(ent.id)}")
    out.append(f"    system: {_scalar(ent.system)}")
    out.append(f"    actions: {_flow(ent.actions)}")
    out.append(f"    resources: {_flow(ent.resources)}")
    if ent.conditions.source_cidrs:
        out.append(f"    conditions: {{source_cidrs: {_flow(ent.conditions.source_cidrs)}}}")
    if ent.valid_from is not None:
        out.append(f"    valid_from: {format_timestamp(ent.valid_from)}")
    if ent.valid_until is not None:
        out.append(f"    valid_until: {format_timestamp(ent.valid_until)}")
    if ent.approved_by is not None:
        out.append(f"    approved_by: {_scalar(ent.approved_by)}")
    if ent.ticket is not None:
        out.append(f"    ticket: {_scalar(ent.ticket)}")


def _identity_lines(identity: Identity, out: list[str]) -> None:
    out.append(f"- id: {_scalar(identity.id)}")
    for key in ("kind", "owner", "purpose", "status"):
        out.append(f"  {key}: {_scalar(getattr(identity, key))}")
    if identity.aliases:
        out.append("  aliases:")
        out.extend(f"  - {_scalar(a)}" for a in identity.aliases)
    if not identity.entitlements:
        out.append("  entitlements: []")
        return
    out.append("  entitlements:")
    for ent in identity.entitlements:
        _entitlement_lines(ent, out)


def dump_baseline(doc: BaselineDocument) -> str:
    """The document as baseline YAML that loads back equal; keys in a fixed order, dates as ``Z``.

    Written directly rather than through PyYAML's representer, which takes ~20 s for a
    100,000-entitlement baseline; scalars that are not obviously plain are JSON-quoted.
    """
    out = [f"version: {doc.version}"]
    if doc.identities:
        out.append("identities:")
        for identity in doc.identities:
            _identity_lines(identity, out)
    else:
        out.append("identities: []")
    settings = doc.settings
    out.append("settings:")
    out.append(f"  out_of_scope: {_flow(settings.out_of_scope)}")
    out.append(f"  mesh_require_identity: {'true' if settings.mesh_require_identity else 'false'}")
    out.append(f"  unused_after_days: {settings.unused_after_days}")
    out.append("")
    return "\n".join(out)
