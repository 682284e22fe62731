from http.server import BaseHTTPRequestHandler

import pytest

from etl.qa import QAGenerationError, generate_qa_pairs, parse_qa_pairs, qa_pairs_from_rows
from tests.http_servers import read_json, send_json, serving


def test_pairs_from_named_columns():
    rows = [["id", "Answer", "Question"], ["1", "Green pigment", "What is chlorophyll?"], ["2", "", "Empty?"]]
    assert qa_pairs_from_rows(rows) == [("What is chlorophyll?", "Green pigment")]


def test_pairs_from_first_two_columns_without_header():
    assert qa_pairs_from_rows([["What is ATP?", "Energy currency"]]) == [("What is ATP?", "Energy currency")]


def test_parse_llm_output():
    content = "Q1: What is ATP?\nA1: The energy currency.\nQ2: Where is it made?\nA2: In mitochondria."
    assert parse_qa_pairs(content) == [
        ("What is ATP?", "The energy currency."),
        ("Where is it made?", "In mitochondria."),
    ]


class _ChatHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = read_json(self)
        _ChatHandler.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if body["model"] == "broken":
            send_json(self, 500, {"error": "down"})
            return
        answer = {"choices": [{"message": {"role": "assistant", "content": "Q1: Wie heißt das?\nA1: ATP."}}]}
        send_json(self, 200, answer)

    def log_message(self, *_args):
        pass


@pytest.fixture
def chat_server():
    with serving(_ChatHandler) as url:
        yield f"{url}/v1"


def test_generation_through_an_openai_compatible_chat_endpoint(chat_server):
    pairs = generate_qa_pairs(
        "ATP ist ...", "German", base_url=chat_server, model="qa-model", api_key="sk-test"
    )
    assert pairs == [("Wie heißt das?", "ATP.")]
    request = _ChatHandler.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert "German" in request["body"]["messages"][0]["content"]
    assert request["body"]["messages"][1]["content"] == "ATP ist ..."


def test_generation_failure_is_reported(chat_server):
    with pytest.raises(QAGenerationError, match="Q&A generation failed"):
        generate_qa_pairs("text", "English", base_url=chat_server, model="broken", api_key=None)
