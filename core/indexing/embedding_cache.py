"""Embeddings through the cache: only texts never embedded under this model reach the model."""

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.indexing.models import EmbeddingCacheEntry
from retrieval.embedders import Embedder

LOOKUP_BATCH = 500


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model_key(embedder: Embedder) -> str:
    return f"{type(embedder).__name__}:{embedder.model_name}"


def embed_with_cache(
    session: Session, embedder: Embedder, texts: Sequence[str]
) -> tuple[np.ndarray, list[int]]:
    """Vectors and token counts for `texts`, in order. New entries are added to the session (the caller
    commits them with the rest of its work)."""
    key = model_key(embedder)
    hashes = [text_hash(text) for text in texts]
    cached = _lookup(session, key, set(hashes))
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    if missing:
        # Duplicates inside one call are embedded once.
        first_index = {hashes[i]: i for i in reversed(missing)}
        fresh_texts = [texts[i] for i in first_index.values()]
        vectors = embedder.embed_documents(fresh_texts)
        tokens = embedder.count_tokens(fresh_texts)
        rows = []
        for (digest, _), vector, count in zip(first_index.items(), vectors, tokens, strict=True):
            cached[digest] = (vector, count)
            rows.append(
                {
                    "model_key": key,
                    "text_hash": digest,
                    "vector": vector.astype("<f4").tobytes(),
                    "tokens": count,
                }
            )
        _insert_ignoring_duplicates(session, rows)
    return np.vstack([cached[h][0] for h in hashes]), [cached[h][1] for h in hashes]


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
