"""Knowledge tags: workspace-wide labels bound to datasets."""

from collections import defaultdict

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.datasets.models import Dataset
from core.errors import InvalidParam, NotFound
from core.tags.models import Tag, TagBinding

KNOWLEDGE = "knowledge"


def list_tags(session: Session, workspace_id: str, keyword: str | None = None) -> list[dict]:
    bindings = (
        select(TagBinding.tag_id, func.count(TagBinding.id).label("count"))
        .group_by(TagBinding.tag_id)
        .subquery()
    )
    query = (
        select(Tag, func.coalesce(bindings.c.count, 0))
        .outerjoin(bindings, bindings.c.tag_id == Tag.id)
        .where(Tag.workspace_id == workspace_id, Tag.type == KNOWLEDGE)
        .order_by(Tag.created_at.desc(), Tag.id)
    )
    if keyword:
        query = query.where(Tag.name.contains(keyword, autoescape=True))
    return [describe_tag(tag, count) for tag, count in session.execute(query).all()]


def describe_tag(tag: Tag, binding_count: int) -> dict:
    # Dify returns binding_count as a string (a legacy coercion clients rely on).
    return {"id": tag.id, "name": tag.name, "type": tag.type, "binding_count": str(binding_count)}


def create_tag(session: Session, caller: Caller, name: str) -> dict:
    caller.require_whole_workspace()
    _ensure_unique_name(session, caller.workspace.id, name)
    tag = Tag(workspace_id=caller.workspace.id, type=KNOWLEDGE, name=name, created_by=caller.account.id)
    session.add(tag)
    session.commit()
    return describe_tag(tag, 0)


def rename_tag(session: Session, caller: Caller, tag_id: str, name: str) -> dict:
    caller.require_whole_workspace()
    tag = _get_tag(session, caller.workspace.id, tag_id)
    if tag.name != name:
        _ensure_unique_name(session, caller.workspace.id, name)
        tag.name = name
    session.commit()
    count = session.scalar(select(func.count(TagBinding.id)).where(TagBinding.tag_id == tag.id))
    return describe_tag(tag, count or 0)


def delete_tag(session: Session, caller: Caller, tag_id: str) -> None:
    caller.require_whole_workspace()
    tag = _get_tag(session, caller.workspace.id, tag_id)
    session.execute(delete(TagBinding).where(TagBinding.tag_id == tag.id))
    session.delete(tag)
    session.commit()


def bind_tags(session: Session, caller: Caller, tag_ids: list[str], target_id: str) -> None:
    """Another workspace's tag id is refused as a missing one is: 404 "Tag not found"."""
    _ensure_target(session, caller, target_id)
    known = session.scalars(
        select(Tag.id).where(
            Tag.workspace_id == caller.workspace.id, Tag.type == KNOWLEDGE, Tag.id.in_(tag_ids)
        )
    ).all()
    if len(known) != len(set(tag_ids)):
        raise NotFound("Tag not found")
    already = set(
        session.scalars(
            select(TagBinding.tag_id).where(TagBinding.target_id == target_id, TagBinding.tag_id.in_(known))
        ).all()
    )
    for tag_id in dict.fromkeys(known):
        if tag_id not in already:
            session.add(
                TagBinding(
                    workspace_id=caller.workspace.id,
                    tag_id=tag_id,
                    target_id=target_id,
                    created_by=caller.account.id,
                )
            )
    session.commit()


def unbind_tags(session: Session, caller: Caller, tag_ids: list[str], target_id: str) -> None:
    _ensure_target(session, caller, target_id)
    session.execute(
        delete(TagBinding).where(
            TagBinding.workspace_id == caller.workspace.id,
            TagBinding.target_id == target_id,
            TagBinding.tag_id.in_(tag_ids),
        )
    )
    session.commit()


def tags_by_dataset(session: Session, dataset_ids: list[str]) -> dict[str, list[Tag]]:
    rows = session.execute(
        select(TagBinding.target_id, Tag)
        .join(Tag, Tag.id == TagBinding.tag_id)
        .where(TagBinding.target_id.in_(dataset_ids), Tag.type == KNOWLEDGE)
        .order_by(Tag.created_at, Tag.id)
    ).all()
    tags: dict[str, list[Tag]] = defaultdict(list)
    for target_id, tag in rows:
        tags[target_id].append(tag)
    return tags


def delete_bindings_of_target(session: Session, target_id: str) -> None:
    session.execute(delete(TagBinding).where(TagBinding.target_id == target_id))


def _get_tag(session: Session, workspace_id: str, tag_id: str) -> Tag:
    tag = session.scalar(
        select(Tag).where(Tag.id == tag_id, Tag.workspace_id == workspace_id, Tag.type == KNOWLEDGE)
    )
    if tag is None:
        raise NotFound("Tag not found")
    return tag


def _ensure_unique_name(session: Session, workspace_id: str, name: str) -> None:
    exists = session.scalar(
        select(Tag.id).where(Tag.workspace_id == workspace_id, Tag.type == KNOWLEDGE, Tag.name == name)
    )
    if exists:
        raise InvalidParam("Tag name already exists")


def _ensure_target(session: Session, caller: Caller, target_id: str) -> None:
    exists = session.scalar(
        select(Dataset.id).where(Dataset.id == target_id, Dataset.workspace_id == caller.workspace.id)
    )
    if not exists or not caller.can_reach(target_id):
        raise NotFound("Dataset not found.")
