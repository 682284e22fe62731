"""The log of retrieval queries run against a dataset."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import paginate, unix_seconds
from core.queries.models import DatasetQuery


def list_queries(session: Session, dataset_id: str, *, page: int, limit: int) -> tuple[list[dict], int]:
    query = select(DatasetQuery).where(DatasetQuery.dataset_id == dataset_id)
    rows, total = paginate(session, query, page, limit, DatasetQuery.created_at.desc(), DatasetQuery.id)
    return [
        {
            "id": row.id,
            "content": row.content,
            "source": row.source,
            "retrieval_model": row.retrieval_model,
            "created_by_role": row.created_by_role,
            "created_by": row.created_by,
            "created_at": unix_seconds(row.created_at),
        }
        for row in rows
    ], total
