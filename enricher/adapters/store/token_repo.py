"""API bearer tokens: create, revoke, list, and authenticate a presented token.

A token is ``enr_`` + 32 random bytes (``secrets.token_urlsafe``); only its SHA-256 is stored. A
fast unsalted hash is enough here because the secret is high-entropy (guessing it is hopeless,
so slowing each guess buys nothing) and it lets a request find its token by an indexed lookup.
Revoked tokens stay in the table, so their names cannot be reused and the audit trail keeps them.

Scopes: ``read`` (every GET) and ``baseline:write`` (baseline edits, and implies ``read``: a
writer has to see what it changes).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.store.engine import session_factory
from enricher.adapters.store.models import ApiTokenRow
from enricher.errors import EnricherError

READ: Final = "read"
BASELINE_WRITE: Final = "baseline:write"
SCOPES: Final = (READ, BASELINE_WRITE)
# scope -> the scopes it grants as well
IMPLIED: Final[dict[str, tuple[str, ...]]] = {BASELINE_WRITE: (READ,)}
TOKEN_PREFIX: Final = "enr_"
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")


class TokenError(EnricherError):
    """A token command that cannot be done: bad name or scope, name taken, no such token."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token without its secret: who it is and what it may do."""

    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def grants(self, scope: str) -> bool:
        """Whether this token's scopes (with the ones they imply) include ``scope``."""
        return scope in effective_scopes(self.scopes)


def effective_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The given scopes plus every scope they imply."""
    out: set[str] = set()
    for scope in scopes:
        out.add(scope)
        out.update(IMPLIED.get(scope, ()))
    return frozenset(out)


def hash_token(token: str) -> str:
    """The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh token: the ``enr_`` prefix (so secret scanners can spot leaks) + 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(text: str) -> tuple[str, ...]:
    """``"read,baseline:write"`` -> ``("read", "baseline:write")``; raise ``TokenError`` on unknown scopes."""
    scopes = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not scopes:
        raise TokenError(f"no scopes given (choose from {', '.join(SCOPES)})")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope(s) {', '.join(unknown)} (choose from {', '.join(SCOPES)})")
    return scopes


def check_name(name: str) -> str:
    """A token name is 1-64 characters of letters, digits and ``._@-``, starting with a letter or digit."""
    if not _NAME.match(name):
        raise TokenError(
            f"bad token name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(row.name, tuple(row.scopes), row.created_at, row.revoked_at)


class TokenRepository:
    """The ``api_tokens`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def create(self, name: str, scopes: Iterable[str]) -> str:
        """Store a new token named ``name`` and return its secret (the only time it is visible)."""
        check_name(name)
        wanted = tuple(dict.fromkeys(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if not wanted or unknown:
            raise TokenError(f"scopes must be some of {', '.join(SCOPES)}, got {', '.join(wanted) or 'none'}")
        token = new_token()
        row = ApiTokenRow(
            name=name, token_hash=hash_token(token), scopes=list(wanted), created_at=datetime.now(UTC)
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise TokenError(
                f"a token named {name!r} already exists (revoked names are kept and cannot be reused)"
            ) from exc
        return token

    async def revoke(self, name: str) -> TokenInfo:
        """Revoke the token ``name`` (a no-op if it already is); ``TokenError`` if there is none."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = await session.get(ApiTokenRow, name)
            if row is None:
                raise TokenError(f"no token named {name!r}")
            return _info(row)

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones included, by name."""
        async with self._sessions() as session:
            rows = await session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
            return [_info(row) for row in rows]

    async def get(self, name: str) -> TokenInfo | None:
        """The token ``name``, or None."""
        async with self._sessions() as session:
            row = await session.get(ApiTokenRow, name)
            return None if row is None else _info(row)

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The stored token whose hash matches ``token`` (revoked or not), or None for an unknown one."""
        digest = hash_token(token)
        async with self._sessions() as session:
            row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return _info(row)
