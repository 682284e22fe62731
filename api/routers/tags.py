from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import CallerDep, SessionDep
from api.schemas.datasets import TagBindingBody, TagCreate, TagDelete, TagOut, TagRename, TagUnbindingBody
from core.tags import service as tags

router = APIRouter(prefix="/datasets/tags", tags=["tags"])


@router.get("", response_model=list[TagOut])
def list_tags(
    caller: CallerDep, session: SessionDep, keyword: Annotated[str | None, Query(max_length=50)] = None
) -> list[dict]:
    """The workspace's knowledge tags with how many datasets each is bound to (`binding_count`, a string as
    in Dify); `keyword` filters by name."""
    return tags.list_tags(session, caller.workspace.id, keyword)


@router.post("", response_model=TagOut)
def create_tag(body: TagCreate, caller: CallerDep, session: SessionDep) -> dict:
    """A new knowledge tag (`name`, 1 to 50 characters). A name the workspace already uses is 400
    `invalid_param`."""
    return tags.create_tag(session, caller, body.name)


@router.patch("", response_model=TagOut)
def rename_tag(body: TagRename, caller: CallerDep, session: SessionDep) -> dict:
    """Renames the tag `tag_id` to `name`; 404 for a tag that is not the workspace's."""
    return tags.rename_tag(session, caller, body.tag_id, body.name)


@router.delete("", status_code=204)
def delete_tag(body: TagDelete, caller: CallerDep, session: SessionDep) -> Response:
    """Deletes the tag `tag_id` and unbinds it from every dataset."""
    tags.delete_tag(session, caller, body.tag_id)
    return Response(status_code=204)


@router.post("/binding", status_code=204)
def bind_tags(body: TagBindingBody, caller: CallerDep, session: SessionDep) -> Response:
    """Binds the tags `tag_ids` to the dataset `target_id`; binding an already bound tag changes nothing."""
    tags.bind_tags(session, caller, body.tag_ids, body.target_id)
    return Response(status_code=204)


@router.post("/unbinding", status_code=204)
def unbind_tags(body: TagUnbindingBody, caller: CallerDep, session: SessionDep) -> Response:
    """Unbinds the tags `tag_ids` (or Dify's legacy single `tag_id`) from the dataset `target_id`."""
    tags.unbind_tags(session, caller, body.all_tag_ids(), body.target_id)
    return Response(status_code=204)
