"""Logging in, and a user's own login sessions: list the live ones and end any of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User, UserSession, utcnow
from app.services.auth import _token_hash, authenticate, open_session
from app.services.errors import NotFound


@dataclass(frozen=True)
class SessionLine:
    """A live session as shown to its owner; ``current`` marks the one in use."""

    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str | None
    ip: str | None
    current: bool


def live_sessions(session: Session, user_id: int, current_token: str) -> list[SessionLine]:
    """The user's sessions that are neither revoked nor expired, newest first."""
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    ).all()
    current_hash = _token_hash(current_token)
    return [
        SessionLine(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip=row.ip,
            current=row.token_hash == current_hash,
        )
        for row in rows
    ]


def revoke_own_session(session: Session, user_id: int, session_id: int, current_token: str) -> bool:
    """End one of the user's sessions; True when it is the one ``current_token`` belongs to.

    Another user's session is reported as not found, so ids cannot be probed.
    """
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFound("session not found", {"session_id": "no such session"})
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.commit()
    return row.token_hash == _token_hash(current_token)


def log_in(
    session: Session,
    username: str,
    password: str,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
) -> tuple[User, str] | None:
    """Check the credentials and open a session: the user and the cookie's token, or None
    for any failure (unknown user, wrong password and inactive user look the same)."""
    user = authenticate(session, username, password)
    if user is None:
        return None
    return user, open_session(session, user, user_agent=user_agent, ip=ip)
