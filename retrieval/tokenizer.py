"""Terms for the full-text index: jieba words for CJK text; lower-cased, stop-worded, Snowball-stemmed
words for Latin text. Index and query go through the same function, so they always agree."""

import logging
import re
from functools import lru_cache
from typing import Any

# Lucene's English stop set, the one Anserini's BM25 baselines use.
ENGLISH_STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
     "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to",
     "was", "will", "with"]
)  # fmt: skip
CHINESE_STOP_WORDS = frozenset(
    ["的", "了", "和", "是", "在", "就", "都", "而", "及", "与", "着", "或", "一个", "没有",
     "我们", "你们", "他们", "这", "那", "之", "也", "被", "把", "让", "对"]
)  # fmt: skip
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    terms: list[str] = []
    position = 0
    for match in _CJK_RUN.finditer(text):
        terms.extend(_latin_terms(text[position : match.start()]))
        terms.extend(_cjk_terms(match.group(0)))
        position = match.end()
    terms.extend(_latin_terms(text[position:]))
    return terms


KEYWORDS_PER_TEXT = 10


def extract_keywords(text: str, limit: int = KEYWORDS_PER_TEXT) -> list[str]:
    """A chunk's keywords as Dify extracts them: jieba's TF-IDF ranking (CJK and Latin words alike),
    here without the stop words of the index."""
    import jieba.analyse

    _jieba()
    ranked = jieba.analyse.extract_tags(text, topK=limit * 2)
    stop = ENGLISH_STOP_WORDS | CHINESE_STOP_WORDS
    return [word for word in ranked if word.lower() not in stop][:limit]


def term_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Where `text` holds words that tokenize to one of `terms`, as (start, end) offsets in code points:
    the words a search on those terms matched, found with the index's own stemming and segmentation."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _CJK_RUN.finditer(text):
        spans += _latin_spans(text, position, match.start(), terms)
        for word, start, end in _jieba().tokenize(match.group(0)):
            if word in terms:
                spans.append((match.start() + start, match.start() + end))
        position = match.end()
    spans += _latin_spans(text, position, len(text), terms)
    return spans


def _latin_spans(text: str, start: int, end: int, terms: set[str]) -> list[tuple[int, int]]:
    words = [
        match
        for match in _WORD.finditer(text, start, end)
        if match.group(0).lower() not in ENGLISH_STOP_WORDS
    ]
    if not words:
        return []
    stems = _stemmer().stemWords([match.group(0).lower() for match in words])
    return [match.span() for match, stem in zip(words, stems, strict=True) if stem in terms]


def _latin_terms(text: str) -> list[str]:
    words = [word for word in _WORD.findall(text.lower()) if word not in ENGLISH_STOP_WORDS]
    return _stemmer().stemWords(words) if words else []


def _cjk_terms(text: str) -> list[str]:
    return [word for word in _jieba().lcut(text) if word.strip() and word not in CHINESE_STOP_WORDS]
