"""Admin UI sessions. Signing in trades an API key for a random session token that the browser keeps
in an HttpOnly cookie, so page scripts never hold the key; the session acts exactly as its key does
and ends on sign-out, at expiry, or when the key is revoked."""

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.api_keys.models import ApiKey, ConsoleSession
from core.api_keys.service import Caller, authenticate, caller_of, hash_token, live_key_with_owner
from core.database import utcnow
from core.errors import Forbidden, Unauthorized
from core.settings import get_settings

SIGNED_OUT = "Your session has ended. Please sign in again."


class CsrfRejected(Forbidden):
    default_message = "The request is missing its CSRF token, or the token does not match the session."


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie only
    csrf_token: str
    caller: Caller
    max_age: int  # seconds


def sign_in(session: Session, api_key: str) -> SignedIn:
    caller = authenticate(session, api_key)
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = timedelta(hours=get_settings().ui_session_hours)
    session.add(
        ConsoleSession(
            token_hash=hash_token(token),
            api_key_id=caller.api_key_id,
            csrf_token=csrf_token,
            expires_at=utcnow() + lifetime,
        )
    )
    session.commit()
    return SignedIn(token, csrf_token, caller, int(lifetime.total_seconds()))


def authenticate_session(session: Session, token: str, csrf_token: str | None, *, safe: bool) -> Caller:
    """The caller behind a session cookie; a state-changing (not `safe`) request must also carry the
    session's CSRF token."""
    caller, expected = session_caller(session, token)
    if not safe and not hmac.compare_digest((csrf_token or "").encode(), expected.encode()):
        raise CsrfRejected()
    return caller


def session_caller(session: Session, token: str) -> tuple[Caller, str]:
    """The caller of a live session and the session's CSRF token."""
    found = session.execute(
        live_key_with_owner()
        .add_columns(ConsoleSession.csrf_token)
        .join(ConsoleSession, ConsoleSession.api_key_id == ApiKey.id)
        .where(
            ConsoleSession.token_hash == hash_token(token),
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.expires_at > utcnow(),
        )
        .limit(1)
    ).first()
    if found is None:
        raise Unauthorized(SIGNED_OUT)
    api_key, workspace, owner, csrf_token = found
    return caller_of(session, api_key, workspace, owner), csrf_token


def sign_out(session: Session, token: str) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    session.commit()
