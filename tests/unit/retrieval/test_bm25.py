"""The engine's BM25, written as sparse weights times Lucene's idf, against rank-bm25's BM25Okapi as
an independent oracle (its idf replaced by Lucene's)."""

import math
import random
from collections import Counter

import pytest
from rank_bm25 import BM25Okapi

from retrieval.bm25 import lucene_idf, query_weights, saturated_weights, term_index

VOCABULARY = [f"w{i}" for i in range(60)]


class LuceneIdfBM25(BM25Okapi):
    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def _engine_scores(corpus: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    """What the engine computes: the query's weights dotted with each text's, each term times its idf."""
    average = sum(map(len, corpus)) / len(corpus)
    frequencies = Counter(term for tokens in corpus for term in set(tokens))
    idf = {term_index(term): lucene_idf(len(corpus), count) for term, count in frequencies.items()}
    scores = []
    for tokens in corpus:
        weights = saturated_weights(Counter(tokens), len(tokens), average, k1=k1, b=b)
        scores.append(sum(idf[i] * q * weights[i] for i, q in query_weights(query).items() if i in weights))
    return scores


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_sparse_weights_score_as_rank_bm25_with_lucene_idf(k1, b):
    rng = random.Random(7)
    corpus = [[rng.choice(VOCABULARY) for _ in range(rng.randint(3, 40))] for _ in range(300)]
    for _ in range(20):
        query = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 6))]
        expected = LuceneIdfBM25(corpus, k1=k1, b=b).get_scores(query)
        assert _engine_scores(corpus, query, k1, b) == pytest.approx(list(expected), abs=1e-6)


def test_lucene_idf_is_never_negative():
    assert lucene_idf(10, 10) > 0 and lucene_idf(10, 1) > lucene_idf(10, 5)


def test_upper_bound_normalises_into_zero_one():
    corpus = [["a", "b"], ["a"], ["c", "c", "c", "a"]]
    query = ["a", "c"]
    bound = 2.2 * (lucene_idf(3, 3) + lucene_idf(3, 1))  # what the search divides by: each term saturated
    assert all(0 <= score / bound < 1 for score in _engine_scores(corpus, query, 1.2, 0.75))


def test_term_dimensions_are_stable_and_distinct():
    assert term_index("mitochondri") == term_index("mitochondri") != term_index("nucleus")
    assert 0 <= term_index("細胞") < 2**32
