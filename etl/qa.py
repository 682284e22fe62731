"""Q&A chunks: from a table with question and answer columns, or written by an LLM from text."""

import re

import httpx

QUESTION_HEADERS = ("question", "questions", "q", "问题", "问")
ANSWER_HEADERS = ("answer", "answers", "a", "答案", "答")
QA_PROMPT = (
    "You split a text into question-and-answer pairs that together cover all of its facts.\n"
    "Write every question and answer in {language}. Answer only from the text.\n"
    "Format each pair exactly as:\nQ1: <question>\nA1: <answer>\nQ2: ...\n"
)
_PAIR = re.compile(r"Q\d+[:：]\s*(.*?)\s*A\d+[:：]\s*(.*?)(?=\s*Q\d+[:：]|\Z)", re.DOTALL)


class QAGenerationError(RuntimeError):
    pass


def qa_pairs_from_rows(rows: list[list[str]]) -> list[tuple[str, str]]:
    """Pairs from a table whose header names a question and an answer column; else the first two columns."""
    rows = [[str(cell).strip() for cell in row] for row in rows if any(str(cell).strip() for cell in row)]
    if not rows:
        return []
    header = [cell.lower() for cell in rows[0]]
    question = next((i for i, name in enumerate(header) if name in QUESTION_HEADERS), None)
    answer = next((i for i, name in enumerate(header) if name in ANSWER_HEADERS), None)
    body = rows[1:]
    if question is None or answer is None:
        question, answer = 0, 1
        body = rows
    return [
        (row[question], row[answer])
        for row in body
        if len(row) > max(question, answer) and row[question] and row[answer]
    ]


def generate_qa_pairs(
    text: str, language: str, *, base_url: str, model: str, api_key: str | None, timeout: float = 120.0
) -> list[tuple[str, str]]:
    """Asks an OpenAI-compatible chat endpoint (`POST {base_url}/chat/completions`) for pairs."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": QA_PROMPT.format(language=language or "English")},
            {"role": "user", "content": text},
        ],
        "temperature": 0.01,
    }
    try:
        response = httpx.post(
            f"{base_url.rstrip('/')}/chat/completions", json=body, headers=headers, timeout=timeout
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as error:
        raise QAGenerationError(f"Q&A generation failed: {error}") from error
    return parse_qa_pairs(content)


def parse_qa_pairs(content: str) -> list[tuple[str, str]]:
    return [(q.strip(), a.strip()) for q, a in _PAIR.findall(content) if q.strip() and a.strip()]
