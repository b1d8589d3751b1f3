"""Field helpers shared by the mesh access-log parsers: placeholders, addresses, SPIFFE ids, XFCC.

Envoy writes ``-`` for a missing value in text logs; its JSON encoding writes ``null`` or ``"-"``
and sometimes a number as a string. Everything here takes the value as logged and never raises.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Final
from zlib import crc32

import orjson

SPIFFE_SCHEME: Final = "spiffe://"


def text_of(value: object) -> str | None:
    """A JSON field as a non-empty string; None for null, ``"-"``, ``""`` and non-scalar values."""
    if isinstance(value, str):
        return value if value and value != "-" else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def host_of(address: str) -> str:
    """``host:port`` -> ``host``; ``[v6]:port`` -> ``[v6]``; a bare host or IPv6 address as is."""
    if address[:1] == "[":
        end = address.find("]")
        return address[: end + 1] if end > 0 else address
    colon = address.rfind(":")
    if colon < 0 or address.find(":") != colon:  # no port, or an unbracketed IPv6 address
        return address
    return address[:colon]


def ip_of(address: str) -> str:
    """The address without its port and without IPv6 brackets: ``[2a02::1]:5000`` -> ``2a02::1``."""
    host = host_of(address)
    if host[:1] == "[" and host[-1:] == "]":
        return host[1:-1]
    return host


def last_forwarded_for(xff: str) -> str | None:
    """The last ``X-Forwarded-For`` hop (the one nearest this proxy; earlier ones are client-supplied)."""
    last = xff.rpartition(",")[2].strip()
    return last or None


def namespace_of(host: str) -> str | None:
    """``svc.NS.svc.<cluster domain>`` -> ``NS``: the namespace of a Kubernetes service name."""
    first = host.find(".")
    if first <= 0:
        return None
    second = host.find(".", first + 1)
    if second < 0 or second == first + 1:
        return None
    rest = host[second + 1 :]
    if rest == "svc" or rest.startswith("svc."):
        return host[first + 1 : second]
    return None


def spiffe_id(value: str) -> str | None:
    """Normalise a peer identity to ``spiffe://TD/...``; None when it is no SPIFFE id.

    AuthorizationPolicy and ``source.principal`` spell the id without the scheme
    (``cluster.local/ns/NS/sa/SA``), so a scheme-less value with an ``/ns/`` segment is accepted.
    """
    value = value.strip()
    if value[:9].lower() == SPIFFE_SCHEME:
        rest = value[9:]
        return SPIFFE_SCHEME + rest if rest and " " not in rest else None
    if value.find("/ns/") > 0 and "://" not in value and " " not in value:
        return SPIFFE_SCHEME + value
    return None


_SAN_CACHE_MAX: Final = 4096
_san_cache: dict[str, tuple[str, str] | None] = {}


def first_spiffe(san_list: str) -> tuple[str, str] | None:
    """The first SPIFFE id in a comma-joined URI SAN list, as (normalised, as logged).

    Memoised: a mesh logs the same few peer identities over and over.
    """
    try:
        return _san_cache[san_list]
    except KeyError:
        pass
    found = _first_spiffe(san_list)
    if len(san_list) <= 1024:  # a bounded memo: no giant keys from hostile input
        if len(_san_cache) >= _SAN_CACHE_MAX:
            _san_cache.clear()
        _san_cache[san_list] = found
    return found


def _first_spiffe(san_list: str) -> tuple[str, str] | None:
    for part in san_list.split(","):
        found = spiffe_id(part)
        if found is not None:
            return found, part.strip()
    return None


def xfcc_uri(header: str) -> tuple[str, str] | None:
    """The caller's SPIFFE id from an ``x-forwarded-client-cert`` header, as (normalised, as logged).

    The header is ``,``-separated elements (one per proxy hop) of ``;``-separated ``key=value``
    pairs; ``Subject="CN=a,OU=b"`` and similar quoted values may hold both separators. The id is
    the last ``URI=`` of the first element (a certificate may carry several URI SANs).
    """
    element = _split_unquoted(header, ",")[0]
    uri = None
    for pair in _split_unquoted(element, ";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip().lower() == "uri":
            uri = _unquote(value.strip())
    if uri is None:
        return None
    found = spiffe_id(uri)
    return (found, uri) if found is not None else None


def _split_unquoted(text: str, sep: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def record_digest(record: object) -> str:
    """A stable hex id for a record without a request id (a text line, or a decoded JSON object)."""
    if isinstance(record, str):
        data = record.encode("utf-8", "surrogatepass")
    else:
        try:
            data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # non-string keys, out-of-range integers, lone surrogates
            data = repr(record).encode("utf-8", "surrogatepass")
    return blake2b(data, digest_size=16).hexdigest()


def hop_digest(text: str) -> str:
    """8 hex characters (CRC-32) telling apart the hops that share one request id."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # lone surrogates: the same bytes "surrogatepass" always gave
        data = text.encode("utf-8", "surrogatepass")
    return f"{crc32(data):08x}"
