"""BM25 with Lucene's idf, as Anserini's baselines score it.

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(d) = sum over query terms t of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

Query terms are summed with their repeats, as rank-bm25 does. Scores are normalised to 0..1 by the
query's upper bound (every term at saturation in a zero-length text), so one score_threshold means
the same for every query.

In the search engine the formula is a dot product of sparse vectors: a text's vector holds, for
each of its terms, the saturated term frequency tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl));
the engine multiplies by idf(t) itself (Qdrant's IDF modifier, Lucene's formula above, over the points
of the collection); the query's vector holds each term's repeat count. avgdl is the collection's
average length at the time the weights were written.
"""

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75


def lucene_idf(text_count: int, document_frequency: int) -> float:
    return math.log(1 + (text_count - document_frequency + 0.5) / (document_frequency + 0.5))


@lru_cache(maxsize=1 << 17)  # terms repeat: hashing them again costs most of building the weights
def term_index(term: str) -> int:
    """A term's dimension in the sparse vectors: 32 bits of its hash, the same in every process (two
    terms share a dimension with odds of about 1 in 4 billion per pair)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


def saturated_weights(
    counts: Mapping[str, int], length: int, average_length: float, *, k1: float = DEFAULT_K1,
    b: float = DEFAULT_B,
) -> dict[int, float]:  # fmt: skip
    """A text's sparse vector: everything of BM25 but the idf, which the engine supplies."""
    norm = k1 * (1 - b + b * length / (average_length or 1.0))
    return {term_index(term): tf * (k1 + 1) / (tf + norm) for term, tf in counts.items()}


def query_weights(terms: Iterable[str]) -> dict[int, float]:
    return {term_index(term): float(count) for term, count in Counter(terms).items()}
