"""Passwords (argon2) and server-side login sessions.

The session cookie carries only a random token; the database keeps its SHA-256 hash,
so a leaked database does not yield usable cookies, and revoking the row ends the
session everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import User, UserSession, utcnow


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg.get("ARGON2_TIME_COST", 3),
        memory_cost=cfg.get("ARGON2_MEMORY_COST", 65536),
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def _dummy_hash() -> str:
    ext = current_app.extensions.setdefault("careroute_dummy_hash", {})
    if "hash" not in ext:
        ext["hash"] = hash_password(secrets.token_urlsafe(16))
    return str(ext["hash"])


def open_session(
    session: Session, user: User, *, user_agent: str | None = None, ip: str | None = None
) -> str:
    """Create a login session for ``user`` and return its token (for the cookie)."""
    token = secrets.token_urlsafe(32)
    hours = current_app.config.get("SESSION_LIFETIME_HOURS", 12)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=hours),
            user_agent=(user_agent or "")[:300] or None,
            ip=ip,
        )
    )
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user of a live (not revoked, not expired) session, or None."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = row.user
    return user if user.active else None


def revoke_session(session: Session, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()


def revoke_all_sessions(session: Session, user_id: int) -> int:
    """Log a user out everywhere (password change, offboarding). Returns sessions ended."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
    return int(result.rowcount or 0)
