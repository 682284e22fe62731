"""Embeddings through the cache: only texts never embedded under this model reach the model."""

import hashlib
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import metrics
from core.index.models import EmbeddingCacheEntry
from retrieval.batching import submit_embedding
from retrieval.embedders import Embedded, Embedder

LOOKUP_BATCH = 500


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model_key(embedder: Embedder) -> str:
    return f"{type(embedder).__name__}:{embedder.model_name}"


@dataclass
class PendingEmbeddings:
    """Texts whose vectors are being computed; `finish_embedding` collects them."""

    key: str
    hashes: list[str]
    cached: dict[str, tuple[np.ndarray, int]]
    fresh: list[str]  # hashes sent to the model, in the order of `embedding`'s results
    embedding: "Future[Embedded]"
    sent_at: float = field(default_factory=time.perf_counter)


def start_embedding(session: Session, embedder: Embedder, texts: Sequence[str]) -> PendingEmbeddings:
    """Looks the texts up in the cache and sends the others to the model without waiting for it."""
    key = model_key(embedder)
    hashes = [text_hash(text) for text in texts]
    cached = _lookup(session, key, set(hashes))
    # Duplicates within the texts are embedded once.
    first_text = {digest: text for digest, text in zip(hashes, texts, strict=True) if digest not in cached}
    fresh = list(first_text)
    return PendingEmbeddings(
        key, hashes, cached, fresh, submit_embedding(embedder, list(first_text.values()))
    )


def finish_embedding(session: Session, pending: PendingEmbeddings) -> tuple[np.ndarray, list[int]]:
    """Vectors and token counts in the order of the texts. New cache entries are added to the session
    (the caller commits them with the rest of its work)."""
    embedded = pending.embedding.result()
    if pending.fresh:
        metrics.EMBEDDING_BATCH_SECONDS.observe(time.perf_counter() - pending.sent_at)
    cached = pending.cached
    rows = []
    for digest, vector, count in zip(pending.fresh, embedded.vectors, embedded.tokens, strict=True):
        cached[digest] = (vector, count)
        rows.append(
            {
                "model_key": pending.key,
                "text_hash": digest,
                "vector": vector.astype("<f4").tobytes(),
                "tokens": count,
            }
        )
    _insert_ignoring_duplicates(session, rows)
    return np.vstack([cached[h][0] for h in pending.hashes]), [cached[h][1] for h in pending.hashes]


def embed_with_cache(
    session: Session, embedder: Embedder, texts: Sequence[str]
) -> tuple[np.ndarray, list[int]]:
    return finish_embedding(session, start_embedding(session, embedder, texts))


def _lookup(session: Session, key: str, hashes: set[str]) -> dict[str, tuple[np.ndarray, int]]:
    found: dict[str, tuple[np.ndarray, int]] = {}
    ordered = sorted(hashes)
    for start in range(0, len(ordered), LOOKUP_BATCH):
        rows = session.execute(
            select(
                EmbeddingCacheEntry.text_hash, EmbeddingCacheEntry.vector, EmbeddingCacheEntry.tokens
            ).where(
                EmbeddingCacheEntry.model_key == key,
                EmbeddingCacheEntry.text_hash.in_(ordered[start : start + LOOKUP_BATCH]),
            )
        )
        for digest, blob, tokens in rows:
            found[digest] = (np.frombuffer(blob, dtype="<f4"), tokens)
    return found


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> None:
    """Two workers may embed the same new text at once; the second insert is a no-op, not an error."""
    if not rows:
        return
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(EmbeddingCacheEntry).values(rows).on_conflict_do_nothing())
