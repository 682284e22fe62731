"""How far a run's extraction has come, on the document for its indexing status: a scan read by OCR
takes seconds a page, and a caller polling the status should see pages move, not a bare `parsing`."""

import time

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.documents.models import Document
from etl.extractors.base import PageProgress

REPORT_INTERVAL_SECONDS = 1.0  # text pages are read by the hundred a second: one write a second is enough


def page_reporter(session: Session, document_id: str, generation: int) -> PageProgress:
    """Writes {"pages", "pages_read", "ocr_pages"} to the document's `extraction` while its pages are
    read; the run's own generation only, so a superseded run writes nothing."""
    last_report = 0.0

    def report(read: int, total: int, recognised: list[int]) -> None:
        nonlocal last_report
        if read < total and time.monotonic() - last_report < REPORT_INTERVAL_SECONDS:
            return
        last_report = time.monotonic()
        session.execute(
            update(Document)
            .where(Document.id == document_id, Document.index_generation == generation)
            .values(extraction={"pages": total, "pages_read": read, "ocr_pages": list(recognised)})
        )
        session.commit()

    return report
