"""A local stand-in for Notion's API (2022-06-28): a workspace of 120 nested pages using every block
type we render and a 300-row database, with cursor pagination, one 429 and token checks."""

import base64
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.http_servers import read_json, send_json

TOKEN = "secret_notion_token"
OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_CODE = "client-1", "client-secret", "good-code"
ROOT = "00000000-0000-4000-8000-000000000000"
DATABASE = "00000000-0000-4000-8000-0000000000db"
SECTIONS, LEAVES_PER_SECTION, ROWS = 7, 16, 300  # 1 + 7 + 112 = 120 pages
EDITED = "2026-11-20T10:00:00.000Z"


def _text(content: str) -> list[dict]:
    return [{"type": "text", "plain_text": content, "text": {"content": content}}]


def _block(block_id: str, kind: str, content: dict | None = None, children: bool = False) -> dict:
    return {"object": "block", "id": block_id, "type": kind, "has_children": children, kind: content or {}}


def leaf_fact(section: int, leaf: int) -> str:
    return f"Leaf {section}-{leaf} records that species {section * 100 + leaf} regenerates its tail."


class NotionWorkspace:
    def __init__(self):
        self.pages: dict[str, dict] = {}
        self.children: dict[str, list[dict]] = {}
        self.rows: list[dict] = []
        self.rate_limited_once = False
        self.lock = threading.Lock()
        self._build()

    def _page(self, page_id: str, title: str, parent: dict) -> None:
        self.pages[page_id] = {
            "object": "page", "id": page_id,
            "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id[-12:]}",
            "last_edited_time": EDITED, "parent": parent,
            "properties": {"title": {"id": "title", "type": "title", "title": _text(title)}},
        }  # fmt: skip

    def _build(self) -> None:
        self._page(ROOT, "Handbook", {"type": "workspace", "workspace": True})
        root_blocks = [
            _block("b-h1", "heading_1", {"rich_text": _text("Handbook intro")}),
            _block("b-p", "paragraph", {"rich_text": _text("Welcome to the lab handbook.")}),
            _block("b-bul", "bulleted_list_item", {"rich_text": _text("Wear gloves")}, children=True),
            _block("b-n1", "numbered_list_item", {"rich_text": _text("Label samples")}),
            _block("b-n2", "numbered_list_item", {"rich_text": _text("Freeze samples")}),
            _block("b-td1", "to_do", {"rich_text": _text("Order pipettes"), "checked": True}),
            _block("b-td2", "to_do", {"rich_text": _text("Calibrate scale"), "checked": False}),
            _block("b-tog", "toggle", {"rich_text": _text("Safety details")}, children=True),
            _block("b-q", "quote", {"rich_text": _text("Measure twice, pipette once.")}),
            _block("b-code", "code", {"rich_text": _text("print('hello lab')"), "language": "python"}),
            _block("b-table", "table", {"table_width": 2, "has_column_header": True, "has_row_header": False},
                   children=True),
            _block("b-db", "child_database", {"title": "Tasks"}),
        ]  # fmt: skip
        self.children["b-bul"] = [
            _block("b-bul2", "bulleted_list_item", {"rich_text": _text("Nitrile only")})
        ]
        self.children["b-tog"] = [
            _block("b-tog2", "paragraph", {"rich_text": _text("Eye wash is by the door.")})
        ]
        self.children["b-table"] = [
            _block(f"b-row{i}", "table_row", {"cells": [_text(a), _text(b)]})
            for i, (a, b) in enumerate(
                [("Organelle", "Role"), ("Mitochondrion", "Energy"), ("Ribosome", "Proteins")]
            )
        ]
        for section in range(1, SECTIONS + 1):
            section_id = f"00000000-0000-4000-8000-{section:012d}"
            self._page(section_id, f"Section {section}", {"type": "page_id", "page_id": ROOT})
            root_blocks.append(_block(section_id, "child_page", {"title": f"Section {section}"}))
            # Section 1 has 150 paragraphs: its children come in two slices.
            paragraphs = 150 if section == 1 else 1
            note = "Section {} note {}."
            blocks = [_block(f"s{section}-p{n}", "paragraph", {"rich_text": _text(note.format(section, n))})
                      for n in range(paragraphs)]  # fmt: skip
            for leaf in range(1, LEAVES_PER_SECTION + 1):
                leaf_id = f"00000000-0000-4000-{section:04d}-{leaf:012d}"
                self._page(leaf_id, f"Leaf {section}-{leaf}", {"type": "page_id", "page_id": section_id})
                blocks.append(_block(leaf_id, "child_page", {"title": f"Leaf {section}-{leaf}"}))
                self.children[leaf_id] = [
                    _block(f"{leaf_id}-p", "paragraph", {"rich_text": _text(leaf_fact(section, leaf))})
                ]
            self.children[section_id] = blocks
        self.children[ROOT] = root_blocks
        for n in range(1, ROWS + 1):
            row_id = f"00000000-0000-4000-9999-{n:012d}"
            self.rows.append({
                "object": "page", "id": row_id, "url": f"https://www.notion.so/Task-{n}-{row_id[-12:]}",
                "last_edited_time": EDITED, "parent": {"type": "database_id", "database_id": DATABASE},
                "properties": {
                    "Name": {"type": "title", "title": _text(f"Task {n}")},
                    "Status": {"type": "select", "select": {"name": "Done" if n % 2 else "Open"}},
                    "Tags": {"type": "multi_select",
                             "multi_select": [{"name": "lab"}, {"name": f"t{n % 3}"}]},
                    "Due": {"type": "date", "date": {"start": "2026-12-01", "end": None}},
                    "Done": {"type": "checkbox", "checkbox": n % 2 == 1},
                    "Points": {"type": "number", "number": n},
                },
            })  # fmt: skip
            self.children[row_id] = []

    def set_leaf_text(self, section: int, leaf: int, text: str) -> None:
        leaf_id = f"00000000-0000-4000-{section:04d}-{leaf:012d}"
        self.children[leaf_id] = [_block(f"{leaf_id}-p2", "paragraph", {"rich_text": _text(text)})]


def _slice(items: list, cursor: str | None, size: int) -> dict:
    start = int(cursor or 0)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return {
        "object": "list",
        "results": chunk,
        "has_more": more,
        "next_cursor": str(start + size) if more else None,
    }


def notion_handler(workspace: NotionWorkspace, token: str = TOKEN) -> type[BaseHTTPRequestHandler]:
    class Notion(BaseHTTPRequestHandler):
        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {token}" and self.headers.get("Notion-Version"):
                return True
            send_json(self, 401, {"object": "error", "status": 401, "code": "unauthorized",
                                  "message": "API token is invalid."})  # fmt: skip
            return False

        def do_POST(self):  # noqa: N802 - the http.server API
            body = read_json(self)
            if self.path == "/v1/oauth/token":
                self._token(body)
                return
            if not self._authorized():
                return
            size = min(int(body.get("page_size", 100)), 100)
            if self.path == "/v1/search":
                if body["filter"]["value"] == "database":
                    items = [{"object": "database", "id": DATABASE, "title": _text("Tasks"),
                              "url": "https://www.notion.so/Tasks", "last_edited_time": EDITED}]  # fmt: skip
                else:
                    items = list(workspace.pages.values())
                send_json(self, 200, _slice(items, body.get("start_cursor"), size))
            elif self.path == f"/v1/databases/{DATABASE}/query":
                with workspace.lock:
                    if not workspace.rate_limited_once:
                        workspace.rate_limited_once = True
                        send_json(self, 429, {"object": "error", "status": 429, "code": "rate_limited",
                                              "message": "Slow down."}, {"Retry-After": "0"})  # fmt: skip
                        return
                send_json(self, 200, _slice(workspace.rows, body.get("start_cursor"), size))
            else:
                send_json(
                    self, 404, {"object": "error", "status": 404, "code": "object_not_found", "message": "?"}
                )

        def _token(self, body: dict) -> None:
            """OAuth code exchange: HTTP Basic with the client id and secret."""
            expected = (
                "Basic " + base64.b64encode(f"{OAUTH_CLIENT_ID}:{OAUTH_CLIENT_SECRET}".encode()).decode()
            )
            if self.headers.get("Authorization") != expected or body.get("code") != OAUTH_CODE:
                send_json(self, 400, {"error": "invalid_grant", "error_description": "Invalid code."})
                return
            send_json(self, 200, {"access_token": token, "token_type": "bearer", "bot_id": "bot-1",
                                  "workspace_name": "Lab", "workspace_id": "ws-1"})  # fmt: skip

        def do_GET(self):  # noqa: N802
            if not self._authorized():
                return
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            segments = parts.path.strip("/").split("/")
            if segments[:2] == ["v1", "pages"]:
                page = workspace.pages.get(segments[2]) or next(
                    (r for r in workspace.rows if r["id"] == segments[2]), None
                )
                if page is None:
                    send_json(self, 404, {"object": "error", "status": 404, "code": "object_not_found",
                                          "message": "Could not find page."})  # fmt: skip
                    return
                send_json(self, 200, page)
            elif segments[:2] == ["v1", "blocks"] and segments[3:] == ["children"]:
                children = workspace.children.get(segments[2], [])
                send_json(
                    self,
                    200,
                    _slice(children, query.get("start_cursor"), min(int(query.get("page_size", 100)), 100)),
                )
            else:
                send_json(
                    self, 404, {"object": "error", "status": 404, "code": "object_not_found", "message": "?"}
                )

        def log_message(self, *_args):
            pass

    return Notion
