"""SQLite's planner statistics are kept up as the data grows (PostgreSQL's autovacuum keeps its own)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.database import refresh_sqlite_statistics, session_scope
from tests.helpers import create_dataset, create_text_document, wait_for_batch, wait_until


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_planner_statistics_follow_the_growth_of_the_data(client, tenant, celery_worker):
    """Without ANALYZE, SQLite checked search hits by scanning every document; indexing runs analyse
    the database whenever its segments have doubled."""
    dataset = create_dataset(client, tenant)
    created = create_text_document(client, tenant, dataset["id"], "one", "Chunk one.\n\nChunk two.").json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    wait_until(_analysed)  # the task analyses right after its batch completes
    with session_scope() as session:
        assert refresh_sqlite_statistics(session) is False  # nothing has doubled since


def _analysed() -> bool:
    with session_scope() as session:
        try:
            return bool(
                session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'segments'")).scalar()
            )
        except OperationalError:  # no statistics table yet
            return False
