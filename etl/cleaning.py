"""Text clean-up before splitting."""

import re

# Control characters other than tab, newline and carriage return, and the non-character U+FFFE.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe]")
_BLANK_LINE_RUNS = re.compile(r"\n{3,}")
# Horizontal whitespace, including NBSP, the ideographic space and other Unicode spaces.
_SPACE_RUNS = re.compile(r"[\t\f\r\x20\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_URL = re.compile(r"https?://[^\s)\]>\"']+")

REMOVE_EXTRA_SPACES = "remove_extra_spaces"
REMOVE_URLS_EMAILS = "remove_urls_emails"
REMOVE_STOPWORDS = "remove_stopwords"  # accepted for compatibility; Dify applies nothing either
PRE_PROCESSING_RULE_IDS = (REMOVE_EXTRA_SPACES, REMOVE_URLS_EMAILS, REMOVE_STOPWORDS)


def clean_text(text: str, enabled_rules: set[str] | frozenset[str] = frozenset()) -> str:
    text = text.replace("<|", "<").replace("|>", ">")
    text = _CONTROL_CHARS.sub("", text)
    if REMOVE_EXTRA_SPACES in enabled_rules:
        text = _BLANK_LINE_RUNS.sub("\n\n", text)
        text = _SPACE_RUNS.sub(" ", text)
    if REMOVE_URLS_EMAILS in enabled_rules:
        text = _remove_urls_and_emails(text)
    return text


def _remove_urls_and_emails(text: str) -> str:
    """Deletes e-mail addresses and http(s) URLs, keeping the URLs of Markdown images."""
    kept: list[str] = []

    def stash(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _MARKDOWN_IMAGE.sub(stash, text)
    text = _EMAIL.sub("", text)
    text = _URL.sub("", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
