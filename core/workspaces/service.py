from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidParam, NotFound
from core.workspaces.models import OWNER_ROLE, Account, Plan, Workspace, WorkspaceStatus


def get_or_create_workspace(session: Session, name: str, plan: Plan | None = None) -> Workspace:
    """Returns the workspace called `name`, creating it (and its owner account) when missing.
    An explicit plan is applied to an existing workspace too."""
    workspace = session.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        workspace = Workspace(name=name, plan=plan or Plan.TEAM, status=WorkspaceStatus.NORMAL)
        session.add(workspace)
        session.flush()
        session.add(Account(workspace_id=workspace.id, name=name, role=OWNER_ROLE))
        session.flush()
    elif plan is not None:
        workspace.plan = plan
    return workspace


def find_workspace(session: Session, name: str) -> Workspace:
    workspace = session.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        raise NotFound(f"Workspace {name!r} not found.")
    return workspace


def set_plan(session: Session, name: str, plan: str) -> Workspace:
    if plan not in set(Plan):
        raise InvalidParam(f"Unknown plan {plan!r}; choose one of {', '.join(Plan)}.")
    workspace = find_workspace(session, name)
    workspace.plan = plan
    session.commit()
    return workspace


def count_workspaces(session: Session) -> int:
    return session.scalar(select(func.count(Workspace.id))) or 0
