"""Our BM25 against rank-bm25's BM25Okapi as an independent oracle, with its idf replaced by Lucene's."""

import math
import random
from collections import Counter

import pytest
from rank_bm25 import BM25Okapi

from retrieval.bm25 import CorpusStatistics, bm25_scores, bm25_upper_bound, lucene_idf, normalised_bm25_scores

VOCABULARY = [f"w{i}" for i in range(60)]


class LuceneIdfBM25(BM25Okapi):
    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def _our_scores(corpus: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    nodes = {str(i): tokens for i, tokens in enumerate(corpus)}
    term_frequencies: dict[str, dict[str, int]] = {}
    for node, tokens in nodes.items():
        for term, count in Counter(tokens).items():
            term_frequencies.setdefault(term, {})[node] = count
    lengths = {node: len(tokens) for node, tokens in nodes.items()}
    statistics = CorpusStatistics(len(nodes), sum(lengths.values()) / len(nodes))
    frequencies = {term: len(postings) for term, postings in term_frequencies.items()}
    scores = bm25_scores(query, term_frequencies, lengths, frequencies, statistics, k1=k1, b=b)
    return [scores.get(str(i), 0.0) for i in range(len(corpus))]


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_scores_match_rank_bm25_with_lucene_idf(k1, b):
    rng = random.Random(7)
    corpus = [[rng.choice(VOCABULARY) for _ in range(rng.randint(3, 40))] for _ in range(300)]
    for _ in range(20):
        query = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 6))]
        expected = LuceneIdfBM25(corpus, k1=k1, b=b).get_scores(query)
        assert _our_scores(corpus, query, k1, b) == pytest.approx(list(expected), abs=1e-6)


def test_lucene_idf_is_never_negative():
    assert lucene_idf(10, 10) > 0 and lucene_idf(10, 1) > lucene_idf(10, 5)


def test_upper_bound_normalises_into_zero_one():
    corpus = [["a", "b"], ["a"], ["c", "c", "c", "a"]]
    query = ["a", "c"]
    scores = _our_scores(corpus, query, 1.2, 0.75)
    frequencies = {"a": 3, "b": 1, "c": 1}
    statistics = CorpusStatistics(3, 7 / 3)
    bound = bm25_upper_bound(query, frequencies, statistics)
    assert all(0 <= score / bound < 1 for score in scores)
    term_frequencies = {"a": {"0": 1, "1": 1, "2": 1}, "b": {"0": 1}, "c": {"2": 3}}
    normalised = normalised_bm25_scores(
        query, term_frequencies, {"0": 2, "1": 1, "2": 4}, frequencies, statistics
    )
    assert [normalised[str(i)] for i in range(3)] == pytest.approx([score / bound for score in scores])
