"""The log of retrieval queries run against a dataset."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.database import unix_seconds
from core.queries.models import DatasetQuery


def list_queries(session: Session, dataset_id: str, *, page: int, limit: int) -> tuple[list[dict], int]:
    query = select(DatasetQuery).where(DatasetQuery.dataset_id == dataset_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DatasetQuery.created_at.desc(), DatasetQuery.id)
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
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
