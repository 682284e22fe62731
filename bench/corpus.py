"""BEIR SciFact from ../shared/data/scifact: corpus, test queries and relevance judgements."""

import csv
import json
from pathlib import Path

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
RESULTS = Path(__file__).resolve().parent / "results"


def load_corpus(limit: int | None = None) -> list[dict]:
    with (SCIFACT / "corpus.jsonl").open() as handle:
        documents = [json.loads(line) for line in handle]
    return documents[:limit] if limit else documents


def document_text(document: dict) -> str:
    return f"{document['title']}\n\n{document['text']}".strip()


def load_queries() -> dict[str, str]:
    with (SCIFACT / "queries.jsonl").open() as handle:
        return {query["_id"]: query["text"] for query in map(json.loads, handle)}


def load_test_queries() -> dict[str, str]:
    qrels = load_qrels()
    return {query_id: text for query_id, text in load_queries().items() if query_id in qrels}


def load_qrels(split: str = "test") -> dict[str, dict[str, int]]:
    judgements: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / f"{split}.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            judgements.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return judgements
