"""Writes the inverted index: one node per indexed text, one posting per (node, term)."""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from core.indexing.models import KeywordNode, KeywordPosting
from retrieval.tokenizer import tokenize

MAX_TERM_LENGTH = 128


@dataclass(frozen=True)
class IndexedText:
    """A text as the indexes hold it (a chunk, a child chunk or a question) and where it belongs."""

    node_id: str
    segment_id: str
    document_id: str
    workspace_id: str
    dataset_id: str
    text: str
    keywords: tuple[str, ...] = ()  # given by a user for the chunk; searched as if part of the text


def write_postings(session: Session, dataset_id: str, texts: list[IndexedText]) -> None:
    """Replaces the postings of these nodes, so writing twice leaves one copy."""
    if not texts:
        return
    node_ids = [t.node_id for t in texts]
    session.execute(delete(KeywordNode).where(KeywordNode.node_id.in_(node_ids)))
    nodes, postings = [], []
    for item in texts:
        terms = [term[:MAX_TERM_LENGTH] for term in tokenize(" ".join((item.text, *item.keywords)))]
        nodes.append(
            {
                "node_id": item.node_id,
                "dataset_id": dataset_id,
                "document_id": item.document_id,
                "segment_id": item.segment_id,
                "length": len(terms),
            }
        )
        postings.extend(
            {"node_id": item.node_id, "term": term, "dataset_id": dataset_id, "term_frequency": count}
            for term, count in Counter(terms).items()
        )
    session.execute(insert(KeywordNode), nodes)
    if postings:
        session.execute(insert(KeywordPosting), postings)


def delete_postings(session: Session, node_ids: list[str]) -> None:
    if node_ids:
        session.execute(delete(KeywordNode).where(KeywordNode.node_id.in_(node_ids)))
