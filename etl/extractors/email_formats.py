"""E-mail: eml with the standard library, Outlook msg with extract-msg."""

import email
from email import policy
from pathlib import Path
from typing import Any

from etl.extractors.base import ExtractedPart, ExtractionError
from etl.extractors.markup import html_to_text


def _headers_and_body(headers: dict[str, str | None], body: str) -> str:
    lines = [f"{name}: {value}" for name, value in headers.items() if value]
    return "\n".join(lines) + ("\n\n" if lines else "") + body.strip()


def extract_eml(path: Path) -> list[ExtractedPart]:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    if not message.keys():
        raise ExtractionError("The EML file has no e-mail headers.")
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        content = body_part.get_content()
        body = html_to_text(content) if body_part.get_content_type() == "text/html" else content
    headers = {name: message.get(name) for name in ("Subject", "From", "To", "Cc", "Date")}
    return [ExtractedPart(_headers_and_body(headers, body))]


def extract_msg(path: Path) -> list[ExtractedPart]:
    import extract_msg

    try:
        message: Any = extract_msg.openMsg(str(path))
    except Exception as error:
        raise ExtractionError(f"The MSG file could not be read: {error}") from error
    try:
        body = message.body or ""
        if not body.strip() and message.htmlBody:
            body = html_to_text(message.htmlBody.decode("utf-8", errors="replace"))
        headers = {
            "Subject": message.subject,
            "From": message.sender,
            "To": message.to,
            "Cc": message.cc,
            "Date": str(message.date) if message.date else None,
        }
        return [ExtractedPart(_headers_and_body(headers, body))]
    finally:
        message.close()
