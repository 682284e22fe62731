"""Every metadata-filter operator of contract section 6, with `and` and `or`, on both search legs."""

import pytest

from core.database import session_scope
from core.documents.models import Document
from tests.helpers import create_dataset, create_text_document, wait_for_batch

DOCUMENTS = {
    "alpha": {"author": "Ada Lovelace", "year": 2019, "published": 1_560_000_000, "lab": "genomics"},
    "beta": {"author": "Alan Turing", "year": 2021, "published": 1_620_000_000, "lab": "immunology"},
    "gamma": {"author": "Grace Hopper", "year": 2023, "published": 1_680_000_000, "lab": "genomics"},
    "delta": {"author": "Ada Yonath", "year": 2020},
    "epsilon": {},
}


@pytest.fixture
def tagged_dataset(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    batches = []
    for name in DOCUMENTS:
        text = f"Report {name} on cell biology zebrafish experiments."
        response = create_text_document(
            client, tenant, dataset["id"], name, text, process_rule={"mode": "automatic"}
        )
        batches.append(response.json()["batch"])
    for batch in batches:
        wait_for_batch(client, tenant, dataset["id"], batch)
    with session_scope() as session:
        for document in session.query(Document).filter(Document.dataset_id == dataset["id"]):
            document.doc_metadata = DOCUMENTS[document.name] or None
    return dataset


CASES = [
    ([("author", "contains", "Ada")], {"alpha", "delta"}),
    ([("author", "not contains", "Ada")], {"beta", "gamma"}),
    ([("author", "start with", "Al")], {"beta"}),
    ([("author", "end with", "Hopper")], {"gamma"}),
    ([("lab", "is", "genomics")], {"alpha", "gamma"}),
    ([("lab", "is not", "genomics")], {"beta"}),
    ([("lab", "empty", None)], {"delta", "epsilon"}),
    ([("lab", "not empty", None)], {"alpha", "beta", "gamma"}),
    ([("lab", "in", ["immunology", "virology"])], {"beta"}),
    ([("lab", "in", "genomics, virology")], {"alpha", "gamma"}),
    ([("lab", "not in", ["genomics"])], {"beta"}),
    ([("lab", "in", [])], set()),
    ([("year", "=", 2021)], {"beta"}),
    ([("year", "≠", 2021)], {"alpha", "gamma", "delta"}),
    ([("year", ">", 2020)], {"beta", "gamma"}),
    ([("year", "<", 2020)], {"alpha"}),
    ([("year", "≥", 2020)], {"beta", "gamma", "delta"}),
    ([("year", "≤", 2020)], {"alpha", "delta"}),
    ([("year", "is", 2019)], {"alpha"}),
    ([("published", "before", 1_600_000_000)], {"alpha"}),
    ([("published", "after", 1_600_000_000)], {"beta", "gamma"}),
    ([("author", "contains", "Ada"), ("year", ">", 2019)], {"delta"}),
    ([("author", "contains", "Alan"), ("lab", "is", "genomics")], set()),
    ([("author", "contains", "Ada"), ("year", "unknown-operator", 1)], {"alpha", "delta"}),
    ([("author", "contains", None)], None),  # dropped: no filter at all
]


@pytest.mark.parametrize("method", ["semantic_search", "full_text_search"])
def test_operators_on_both_legs(client, tenant, tagged_dataset, method):
    for conditions, expected in CASES:
        _check(client, tenant, tagged_dataset["id"], method, "and", conditions, expected)
    either = [("author", "contains", "Alan"), ("lab", "is", "genomics")]
    _check(client, tenant, tagged_dataset["id"], method, "or", either, {"alpha", "beta", "gamma"})


def _check(client, tenant, dataset_id, method, logical_operator, conditions, expected):
    body = {
        "query": "zebrafish cell biology report",
        "retrieval_model": {
            "search_method": method, "reranking_enable": False, "top_k": 10, "score_threshold_enabled": False,
            "metadata_filtering_conditions": {
                "logical_operator": logical_operator,
                "conditions": [{"name": n, "comparison_operator": op, "value": v} for n, op, v in conditions],
            },
        },
    }  # fmt: skip
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    found = {record["segment"]["document"]["name"] for record in response.json()["records"]}
    assert found == (set(DOCUMENTS) if expected is None else expected), (conditions, logical_operator)
