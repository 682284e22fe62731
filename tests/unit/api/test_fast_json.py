import json

from fastapi.responses import JSONResponse

from api.fast_json import FastJSONResponse

RECORD = {
    "segment": {"content": "Überdosis 过量 — dose", "position": 3, "answer": None, "keywords": ["dose"]},
    "score": 0.7336,
    "score_details": {"vector_score": 8.375779756625729e-06, "keyword_rank": 1, "rerank_score": None},
    "highlights": {"content": [[0, 9]], "answer": []},
}


def test_it_answers_the_json_the_standard_response_answers():
    fast, standard = FastJSONResponse({"records": [RECORD]}), JSONResponse({"records": [RECORD]})
    assert json.loads(fast.body) == json.loads(standard.body)
    assert "过量".encode() in fast.body  # UTF-8, not escaped
    assert fast.headers["content-type"] == standard.headers["content-type"]


def test_an_integer_beyond_64_bits_is_rendered_as_the_standard_response_renders_it():
    metadata = {"doc_metadata": {"serial": 2**70}}
    assert FastJSONResponse(metadata).body == JSONResponse(metadata).body
