"""Dataset API keys: minted once as `ds-` + 24 alphanumerics, stored as a SHA-256 hash."""

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.api_keys.models import ApiKey
from core.database import utcnow
from core.errors import Forbidden, InvalidParam, NotFound, Unauthorized
from core.workspaces.models import OWNER_ROLE, Account, Workspace, WorkspaceStatus

KEY_PREFIX = "ds-"
KEY_ALPHABET = string.ascii_letters + string.digits
MAX_ACTIVE_KEYS_PER_WORKSPACE = 10
# last_used_at is a hint for humans; writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ScopedKeyRefused(Forbidden):
    default_message = "This API key is limited to some datasets: it cannot change the workspace."


@dataclass(frozen=True)
class Caller:
    """Who a request acts as: the key's workspace, through its owner account (as Dify does), and for a
    dataset-scoped key the only datasets it may reach."""

    workspace: Workspace
    account: Account
    api_key_id: str
    dataset_ids: frozenset[str] | None = None

    def can_reach(self, dataset_id: str) -> bool:
        return self.dataset_ids is None or dataset_id in self.dataset_ids

    def require_whole_workspace(self) -> None:
        """Workspace-wide changes (datasets, tags, credentials, keys) are not a scoped key's to make."""
        if self.dataset_ids is not None:
            raise ScopedKeyRefused()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mask_token(token: str) -> str:
    return f"{token[:6]}...{token[-4:]}"


def create_key(session: Session, workspace: Workspace, dataset_ids: list[str] | None = None) -> str:
    """A new key of the workspace; with `dataset_ids`, one that reaches those datasets only."""
    active = session.scalar(  # a count: never None
        select(func.count(ApiKey.id)).where(ApiKey.workspace_id == workspace.id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS_PER_WORKSPACE:
        raise InvalidParam(
            f"Cannot create more than {MAX_ACTIVE_KEYS_PER_WORKSPACE} API keys for a workspace."
        )
    token = KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(24))
    if dataset_ids is not None:
        dataset_ids = _datasets_of(session, workspace, dataset_ids)
    session.add(
        ApiKey(
            workspace_id=workspace.id,
            token_hash=hash_token(token),
            masked_token=mask_token(token),
            dataset_ids=dataset_ids,
        )
    )
    session.commit()
    return token


def authenticate(session: Session, token: str) -> Caller:
    """One query for the key, its workspace and the workspace's owner: every request pays for it."""
    found = session.execute(
        live_key_with_owner().where(ApiKey.token_hash == hash_token(token)).limit(1)
    ).first()
    if found is None:
        raise Unauthorized("Access token is invalid")
    return caller_of(session, *found)


def live_key_with_owner() -> Select:
    """A not-revoked dataset key with its workspace and the workspace's owner (outer-joined, so a
    missing one can be told apart)."""
    return (
        select(ApiKey, Workspace, Account)
        .outerjoin(Workspace, Workspace.id == ApiKey.workspace_id)
        .outerjoin(Account, (Account.workspace_id == ApiKey.workspace_id) & (Account.role == OWNER_ROLE))
        .where(ApiKey.type == "dataset", ApiKey.revoked_at.is_(None))
    )


def caller_of(
    session: Session, api_key: ApiKey, workspace: Workspace | None, owner: Account | None
) -> Caller:
    if workspace is None or workspace.status != WorkspaceStatus.NORMAL:
        raise Unauthorized("Tenant does not exist.")
    if owner is None:
        raise Unauthorized("Tenant owner account does not exist.")
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        api_key.last_used_at = now
        session.commit()
    scope = frozenset(api_key.dataset_ids) if api_key.dataset_ids is not None else None
    return Caller(workspace=workspace, account=owner, api_key_id=api_key.id, dataset_ids=scope)


def list_keys(session: Session, workspace: Workspace) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.workspace_id == workspace.id).order_by(ApiKey.created_at, ApiKey.id)
        ).all()
    )


def revoke_key(session: Session, key_id: str, workspace_id: str | None = None) -> None:
    """Revokes a key (of `workspace_id` only, when given: another workspace's key is not found)."""
    api_key = session.get(ApiKey, key_id)
    if api_key is None or workspace_id not in (None, api_key.workspace_id):
        raise NotFound(f"API key {key_id!r} not found.")
    api_key.revoked_at = api_key.revoked_at or utcnow()
    session.commit()


def find_key_id(session: Session, id_or_prefix: str) -> str:
    """A key's whole id from the id or a prefix no other key shares (as `kb keys list` shows them)."""
    prefix = id_or_prefix.strip().lower()
    matches = session.scalars(select(ApiKey.id).where(ApiKey.id.startswith(prefix, autoescape=True))).all()
    if len(matches) > 1:
        raise InvalidParam(f"{len(matches)} keys have ids starting with {prefix!r}: give more of the id.")
    if not matches:
        raise NotFound(f"API key {id_or_prefix!r} not found.")
    return matches[0]


def _datasets_of(session: Session, workspace: Workspace, dataset_ids: list[str]) -> list[str]:
    from core.datasets.models import Dataset  # datasets import Caller from here

    wanted = sorted(set(dataset_ids))
    found = set(
        session.scalars(
            select(Dataset.id).where(Dataset.workspace_id == workspace.id, Dataset.id.in_(wanted))
        )
    )
    if not wanted or found != set(wanted):
        missing = ", ".join(sorted(set(wanted) - found)) or "none given"
        raise InvalidParam(f"A scoped key needs datasets of workspace {workspace.name} ({missing}).")
    return wanted
