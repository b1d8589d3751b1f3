"""Secret redaction for anything stored or forwarded (dead letters, stored payloads) (SPEC §3).

``redact`` walks decoded JSON and replaces with ``[REDACTED]``:
- the values of keys named in ``SECRET_KEYS`` (exact names, any case: ``sessionToken``,
  ``secretAccessKey``, ``password``, ``token``, ``Authorization`` ...), which covers CloudTrail's
  ``responseElements.credentials`` while keeping ``accessKeyId`` (an identifier, used to link
  sessions);
- the values of ``data``/``stringData`` of Kubernetes Secrets: objects of ``kind: Secret``, the
  items of a ``SecretList``, and the request/response objects of an audit event (or GKE entry) on
  the ``secrets`` resource, whose patch bodies carry no ``kind``; JSON-patch operations on
  ``/data`` and ``/stringData`` paths lose their ``value``;
- inside every string: ``Bearer``/``Basic`` credentials, PEM private-key blocks, JWTs, and
  ``password=...``-style assignments (``aws_secret_access_key = ...``); a string holding a JSON
  object or array (AKS ``properties.log``, ``last-applied-configuration``) is decoded, redacted
  and re-encoded.

The input is never modified. Only the containers on the path to a redacted value are copied, so
the result shares untouched parts with the input (treat it as read-only), and is the input
itself when nothing matched. That common case costs one ``orjson.dumps`` and a scan for the few
secret words every shape above contains; only records holding one of them are walked. Nesting
deeper than ``MAX_DEPTH`` is replaced whole (failing closed; orjson cannot encode it anyway).
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

REDACTED: Final = "[REDACTED]"
MAX_DEPTH: Final = 128

SECRET_KEYS: Final = frozenset(
    {
        "secretaccesskey",
        "sessiontoken",
        "password",
        "passwd",
        "passworddata",  # EC2 GetPasswordData
        "passphrase",
        "secretstring",  # Secrets Manager values
        "secretbinary",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "clientsecret",
        "privatekey",
        "private_key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
    }
)

_SECRET_KINDS: Final = ("Secret",)
_SECRET_DATA_KEYS: Final = ("data", "stringData")
_SECRET_PATCH_PATHS: Final = ("/data", "/stringData")
_SECRETS_METHOD: Final = "io.k8s.core.v1.secrets."

# Every secret shape below contains one of these words (lower-cased): a record whose JSON holds
# none is returned as is after one C-speed scan, and a string with none skips the regexes.
_MARKERS: Final = (
    "secret",
    "token",
    "pass",
    "private",
    "bearer",
    "basic",
    'authorization"',
    "cookie",
    "eyj",
    "api_k",
    "apik",
    "api-k",
)
_ASSIGN_WORDS: Final = ("secret", "token", "pass", "private", "api")
# a PEM private key, to the end of the text when it is cut short
_PEM: Final = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_SCHEME: Final = re.compile(r"\b((?:[Bb]earer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*")
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# KEY=value, KEY: value, "KEY": "value" where KEY ends in a secret-ish word; not right after ":"
# or "/", so ARNs like ...:secret:NAME stay
_ASSIGN: Final = re.compile(
    r"((?<![:/])(?:secret[_-]?access[_-]?key|password|passwd|passphrase|secret|token|private[_-]?key"
    r"|api[_-]?key)[\"']?\s*[=:]\s*[\"']?)(?![\"'\s,}\]]|\[REDACTED\])[^\s\"'&;,}\]]+",
    re.IGNORECASE,
)
_KEEP: Final = r"\1" + REDACTED
_JSON_OPENERS: Final = ("{", "[")
_JSON_CLOSERS: Final = ("}", "]")


def redact(obj: object) -> object:
    """A redacted version of decoded JSON (see the module docstring); ``obj`` is not modified."""
    try:
        lowered = orjson.dumps(obj).decode().lower()
    except orjson.JSONEncodeError:  # nesting orjson refuses, huge ints, non-string keys
        return _Walker(_MARKERS).walk(obj, 0)
    present = tuple(marker for marker in _MARKERS if marker in lowered)
    return _Walker(present).walk(obj, 0) if present else obj


def redact_text(text: str) -> str:
    """``text`` with bearer tokens, private keys, JWTs and ``key=secret`` values redacted."""
    return _redact_text(text, _MARKERS)


def _redact_text(text: str, markers: tuple[str, ...]) -> str:
    lowered = text.lower()
    for marker in markers:
        if marker in lowered:
            break
    else:
        return text
    if "private key" in lowered:
        text = _PEM.sub(REDACTED, text)
    if "bearer" in lowered or "basic" in lowered:
        text = _SCHEME.sub(_KEEP, text)
    if "eyj" in lowered:
        text = _JWT.sub(REDACTED, text)
    for word in _ASSIGN_WORDS:
        if word in lowered:
            return _ASSIGN.sub(_KEEP, text) if _ASSIGN.search(text) else text
    return text


class _Walker:
    """One redaction walk; ``markers`` are the secret words the record contains at all, so a
    string is checked for those few only."""

    __slots__ = ("markers",)

    def __init__(self, markers: tuple[str, ...]) -> None:
        self.markers = markers

    def walk(self, obj: object, depth: int) -> object:
        if isinstance(obj, str):
            return self.scrub(obj, depth)
        if isinstance(obj, dict):
            return self.walk_dict(obj, depth)
        if isinstance(obj, list):
            return self.walk_list(obj, depth, secret=False)
        return obj

    def walk_list(self, items: list[Any], depth: int, *, secret: bool) -> object:
        if depth >= MAX_DEPTH:
            return REDACTED
        out: list[Any] | None = None
        for i, item in enumerate(items):
            new = self.secret_payload(item, depth + 1) if secret else self.walk(item, depth + 1)
            if new is not item:
                if out is None:
                    out = list(items)
                out[i] = new
        return items if out is None else out

    def walk_dict(self, d: dict[Any, Any], depth: int, *, secret: bool = False) -> object:
        if depth >= MAX_DEPTH:
            return REDACTED
        kind = d.get("kind")
        secret = secret or kind == "Secret"
        payloads = _on_secrets(d) if "objectRef" in d or "methodName" in d else ()
        special = secret or payloads or kind == "SecretList"
        out: dict[Any, Any] | None = None
        for key, value in d.items():
            if type(key) is str and key.lower() in SECRET_KEYS:
                new = REDACTED if value is not None and value != "" else value
            elif special:
                new = self.special_value(key, value, depth + 1, secret=secret, payloads=payloads)
            elif type(value) is str:
                new = self.scrub(value, depth + 1)
            elif isinstance(value, dict | list):
                new = self.walk(value, depth + 1)
            else:
                continue
            if new is not value:
                if out is None:
                    out = dict(d)
                out[key] = new
        return d if out is None else out

    def special_value(
        self, key: object, value: object, depth: int, *, secret: bool, payloads: tuple[str, ...]
    ) -> object:
        """A value of a Secret, a SecretList or an audit record on ``secrets``."""
        if secret and key in _SECRET_DATA_KEYS:
            return _mask_values(value)
        if key in payloads:
            return self.secret_payload(value, depth)
        if key == "items" and isinstance(value, list):  # a SecretList's items carry no kind
            return self.walk_list(value, depth, secret=True)
        return self.walk(value, depth)

    def secret_payload(self, value: object, depth: int) -> object:
        """A body about Secrets: a Secret, a patch of one, a list of them, or JSON-patch operations."""
        if isinstance(value, dict):
            if isinstance(path := value.get("path"), str) and path.startswith(_SECRET_PATCH_PATHS):
                return {**value, "value": REDACTED} if "value" in value else value
            return self.walk_dict(value, depth, secret=True)
        if isinstance(value, list):
            return self.walk_list(value, depth, secret=True)
        return self.walk(value, depth)

    def scrub(self, text: str, depth: int) -> str:
        if text.startswith(_JSON_OPENERS) and text.endswith(_JSON_CLOSERS) and depth < MAX_DEPTH:
            # JSON inside a string (AKS properties.log, last-applied-configuration, IAM policies)
            try:
                inner = orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
            else:
                cleaned = self.walk(inner, depth + 1)
                return text if cleaned is inner else orjson.dumps(cleaned).decode()
        return _redact_text(text, self.markers)


def _on_secrets(d: dict[Any, Any]) -> tuple[str, ...]:
    """Keys holding Secret bodies when ``d`` is an audit event or GKE payload on ``secrets``."""
    ref = d.get("objectRef")
    if isinstance(ref, dict) and ref.get("resource") == "secrets":
        return ("requestObject", "responseObject")
    method = d.get("methodName")
    if isinstance(method, str) and method.startswith(_SECRETS_METHOD):
        return ("request", "response")
    return ()


def _mask_values(value: object) -> object:
    if isinstance(value, dict):
        return {k: REDACTED for k in value} if value else value
    return REDACTED if value is not None and value != "" else value
