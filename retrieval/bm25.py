"""BM25 with Lucene's idf, as Anserini's baselines score it.

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(d) = sum over query terms t of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

Query terms are summed with their repeats, as rank-bm25 does. Scores are also given normalised to
0..1 by the query's upper bound (every term at saturation in a zero-length text), so one
score_threshold means the same for every query.

In the search engine the same formula is a dot product of sparse vectors: a text's vector holds, for
each of its terms, the saturated term frequency tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl));
the engine multiplies by idf(t) itself (Qdrant's IDF modifier, Lucene's formula above, over the points
of the collection); the query's vector holds each term's repeat count. avgdl is the collection's
average length at the time the weights were written.
"""

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75


@dataclass(frozen=True)
class CorpusStatistics:
    text_count: int
    average_length: float


def lucene_idf(text_count: int, document_frequency: int) -> float:
    return math.log(1 + (text_count - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25_scores(
    query_terms: Iterable[str],
    term_frequencies: Mapping[str, Mapping[str, int]],
    lengths: Mapping[str, int],
    document_frequencies: Mapping[str, int],
    statistics: CorpusStatistics,
    *,
    k1: float = DEFAULT_K1,
    b: float = DEFAULT_B,
) -> dict[str, float]:
    """`term_frequencies[term][node]`; returns the score of every node holding a query term."""
    average = statistics.average_length or 1.0
    scores: dict[str, float] = {}
    for term in query_terms:
        postings = term_frequencies.get(term)
        if not postings:
            continue
        idf = lucene_idf(statistics.text_count, document_frequencies.get(term, len(postings)))
        for node, tf in postings.items():
            norm = k1 * (1 - b + b * lengths[node] / average)
            scores[node] = scores.get(node, 0.0) + idf * tf * (k1 + 1) / (tf + norm)
    return scores


def bm25_upper_bound(
    query_terms: Iterable[str],
    document_frequencies: Mapping[str, int],
    statistics: CorpusStatistics,
    *,
    k1: float = DEFAULT_K1,
) -> float:
    return sum(
        lucene_idf(statistics.text_count, document_frequencies[term]) * (k1 + 1)
        for term in query_terms
        if document_frequencies.get(term)
    )


def normalised_bm25_scores(
    query_terms: list[str],
    term_frequencies: Mapping[str, Mapping[str, int]],
    lengths: Mapping[str, int],
    document_frequencies: Mapping[str, int],
    statistics: CorpusStatistics,
    *,
    k1: float = DEFAULT_K1,
    b: float = DEFAULT_B,
) -> dict[str, float]:
    """`bm25_scores` divided by the query's upper bound: 0..1 for every query."""
    scores = bm25_scores(query_terms, term_frequencies, lengths, document_frequencies, statistics, k1=k1, b=b)
    bound = bm25_upper_bound(query_terms, document_frequencies, statistics, k1=k1) or 1.0
    return {node: score / bound for node, score in scores.items()}


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
