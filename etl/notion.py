"""Notion's public API (version 2022-06-28): pages become Markdown-like text, database rows become
text plus their properties.

Every list the API returns is paginated (`has_more`, `next_cursor`); all of it is followed. 429
answers are retried after their `Retry-After`. Blocks render as headings, list items, to-dos,
toggles, quotes, code and tables row by row (each value named by its column header); child pages are
returned separately, so they can become documents of their own.
"""

from dataclasses import dataclass, field
from typing import Any, Unpack

from etl.extractors.base import table_text
from retrieval.http_client import ApiError, Connection, JsonApi, bearer

NOTION_VERSION = "2022-06-28"
PAGE_SIZE = 100
MAX_DEPTH = 20  # nested blocks deeper than this are not read (Notion itself nests far less)


@dataclass
class NotionPage:
    id: str
    title: str
    url: str
    last_edited_time: str
    text: str
    child_page_ids: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict[str, Any])


class NotionClient(JsonApi):
    def __init__(self, token: str, base_url: str, **connection: Unpack[Connection]):
        headers = bearer(token) | {"Notion-Version": NOTION_VERSION}
        super().__init__(
            "Notion", base_url, headers, timeout=60.0, max_attempts=6, backoff_seconds=1.0, **connection
        )

    def search(self, kind: str) -> list[dict[str, Any]]:
        """Every page (`kind` "page") or database the integration can see."""
        return self._paginate("POST", "/v1/search", {"filter": {"property": "object", "value": kind}})

    def page(self, page_id: str, *, as_row: bool = False) -> NotionPage:
        """A page (or, `as_row`, a database row: its properties first) with its blocks as text."""
        return self._read(self._call("GET", f"/v1/pages/{page_id}"), as_row)

    def database_rows(self, database_id: str) -> list[NotionPage]:
        return [
            self._read(row, True) for row in self._paginate("POST", f"/v1/databases/{database_id}/query", {})
        ]

    def _read(self, page: dict[str, Any], as_row: bool) -> NotionPage:
        properties = page_properties(page)
        lines = [f"{name}: {value}" for name, value in properties.items() if value] if as_row else []
        child_pages: list[str] = []
        self._render_children(page["id"], lines, child_pages, depth=0)
        return NotionPage(
            id=page["id"],
            title=page_title(page),
            url=page.get("url") or page["id"],
            last_edited_time=page.get("last_edited_time", ""),
            text="\n".join(lines).strip(),
            child_page_ids=child_pages,
            properties=properties,
        )

    def _render_children(self, block_id: str, lines: list[str], child_pages: list[str], depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        blocks = self._paginate("GET", f"/v1/blocks/{block_id}/children", None)
        numbered = 0
        for block in blocks:
            kind = block.get("type", "")
            numbered = numbered + 1 if kind == "numbered_list_item" else 0
            if kind == "child_page":
                child_pages.append(block["id"])
                continue
            if kind == "table":
                lines.append(self._table(block))
                continue
            line = render_block(block, depth, numbered)
            if line is not None:
                lines.append(line)
            if block.get("has_children") and kind not in ("child_database", "synced_block"):
                self._render_children(block["id"], lines, child_pages, depth + 1)

    def _table(self, block: dict[str, Any]) -> str:
        rows = [
            [rich_text(cell) for cell in row["table_row"]["cells"]]
            for row in self._paginate("GET", f"/v1/blocks/{block['id']}/children", None)
            if row.get("type") == "table_row"
        ]
        if not block["table"].get("has_column_header"):
            return "\n".join("; ".join(filter(None, row)) for row in rows)
        return table_text(rows)

    def _paginate(self, method: str, path: str, body: dict[str, Any] | None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        cursor = None
        while True:
            if method == "GET":
                query = f"?page_size={PAGE_SIZE}" + (f"&start_cursor={cursor}" if cursor else "")
                answer = self._call("GET", path + query)
            else:
                answer = self._call(method, path, {**(body or {}), "page_size": PAGE_SIZE}
                                    | ({"start_cursor": cursor} if cursor else {}))  # fmt: skip
            results += answer.get("results") or []
            if not answer.get("has_more") or not answer.get("next_cursor"):
                return results
            cursor = answer["next_cursor"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.request(method, path, body)
            return answer
        except ApiError as error:
            if error.status == 401:
                raise ApiError(
                    "Notion rejected the integration token (401): check the notion data source.", 401
                ) from error
            if error.status in (403, 404):
                raise ApiError(
                    f"Notion did not give access to {path.split('?')[0]} ({error.status}): "
                    "share it with the integration.",
                    error.status,
                ) from error
            raise


def rich_text(items: list[dict[str, Any]] | None) -> str:
    return "".join(item.get("plain_text", "") for item in items or []).strip()


def render_block(block: dict[str, Any], depth: int, number: int) -> str | None:
    kind = block.get("type", "")
    content = block.get(kind) or {}
    text = rich_text(content.get("rich_text"))
    indent = "  " * depth
    if kind.startswith("heading_"):
        return f"{'#' * int(kind[-1])} {text}"
    if kind == "bulleted_list_item":
        return f"{indent}- {text}"
    if kind == "numbered_list_item":
        return f"{indent}{number}. {text}"
    if kind == "to_do":
        return f"{indent}- [{'x' if content.get('checked') else ' '}] {text}"
    if kind == "quote":
        return f"> {text}"
    if kind == "code":
        return f"```{content.get('language', '')}\n{text}\n```"
    if kind == "child_database":
        return f"## {content.get('title', '')}"
    if kind in ("paragraph", "toggle", "callout"):
        return f"{indent}{text}" if text else None
    if kind == "equation":
        return content.get("expression") or None
    if kind in ("bookmark", "embed", "link_preview"):
        return content.get("url") or None
    return text or None  # other blocks: whatever text they carry


def page_title(page: dict[str, Any]) -> str:
    if page.get("object") == "database":
        return rich_text(page.get("title")) or "Untitled"
    for prop in (page.get("properties") or {}).values():
        if prop.get("type") == "title":
            return rich_text(prop.get("title")) or "Untitled"
    return "Untitled"


def page_properties(page: dict[str, Any]) -> dict[str, str]:
    """Each property of a page as plain text (databases give rows many typed properties)."""
    return {name: property_text(prop) for name, prop in (page.get("properties") or {}).items()}


def property_text(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "")
    value: Any = prop.get(kind)
    if kind in ("title", "rich_text"):
        return rich_text(value)
    if kind in ("select", "status"):
        return str((value or {}).get("name", ""))
    if kind == "multi_select":
        return ", ".join(option.get("name", "") for option in value or [])
    if kind == "date":
        if not value:
            return ""
        return str(value.get("start", "")) + (f" to {value['end']}" if value.get("end") else "")
    if kind == "checkbox":
        return "yes" if value else "no"
    if kind == "number":
        return "" if value is None else (str(int(value)) if float(value).is_integer() else str(value))
    if kind == "people":
        return ", ".join(person.get("name", "") for person in value or [])
    if kind == "formula":
        inner = value or {}
        return str(inner.get(inner.get("type", ""), "") or "")
    if kind == "relation":
        return ", ".join(item.get("id", "") for item in value or [])
    return str(value) if isinstance(value, str | int | float) else ""
