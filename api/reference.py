"""The API reference in Markdown (docs/api.md), written from the service's own OpenAPI document, so
the reference and the routes cannot drift apart (a test compares them).

    python -m api.reference > docs/api.md
"""

import sys

from api.app import create_app
from api.openapi import ERRORS

INTRODUCTION = """\
# API reference

Every route of the service, with its parameters, body fields and answers. This file is written from
the service's OpenAPI document (`python -m api.reference > docs/api.md`; a test checks it is
current); the same document is browsable at `/docs` on a running service, offline.

- **Base URL**: `http://<host>:5001/v1` (repeated slashes count as one, so a base URL ending in `/`
  works). The external-knowledge route is also at `/retrieval`, without `/v1`.
- **Keys**: every route under `/v1` takes `Authorization: Bearer <key>`, a workspace key from
  `kb keys create` or the admin UI. A key acts as its workspace's owner; a dataset-scoped key sees
  only its datasets (404 for the others) and cannot change the workspace (403).
- **Errors** come as `{"code", "message", "status"}` JSON, `message` one readable sentence naming the
  field. Exceptions: `/retrieval` answers `{"error_code", "error_msg"}` as Dify's external-knowledge
  callers expect, and body errors of segment creation come as Dify's bare `{"error": "..."}`.
- **Counted requests** (the workspace plan's knowledge rate limit) carry `RateLimit-Limit`,
  `RateLimit-Remaining` and `RateLimit-Reset`; a refusal is 403 `forbidden` with `Retry-After`.
- **Timestamps** are Unix seconds unless a field says otherwise.

Every route under `/v1` may answer these; each route below lists the answers it adds:

| answer | meaning |
|---|---|
""" + "".join(f"| {status} | {meaning} |\n" for status, meaning in ERRORS.items())


def render(schema: dict) -> str:
    components = schema.get("components", {}).get("schemas", {})
    sections: dict[str, list[str]] = {}
    used: set[str] = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            sections.setdefault(tag, []).append(_operation(method, path, operation, used))
    parts = [INTRODUCTION]
    for tag, rendered in sections.items():
        parts.append(f"## {tag.capitalize()}\n")
        parts.extend(rendered)
    parts.append("## Schemas\n\nThe objects the routes above take and answer.\n")
    for name in sorted(_closure(used, components)):
        parts.append(_schema_section(name, components[name]))
    return "\n".join(parts).rstrip() + "\n"


def _operation(method: str, path: str, operation: dict, used: set[str]) -> str:
    lines = [f"### `{method.upper()} {path}`\n", _paragraph(operation.get("description", "")), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
        for parameter in parameters:
            kind, notes = _type(parameter.get("schema", {}), used)
            notes = "; ".join(filter(None, [parameter.get("description"), notes]))
            required = "yes" if parameter.get("required") else ""
            lines.append(f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} | {notes} |")
        lines.append("")
    lines += _body(operation.get("requestBody"), used)
    lines += _answers(operation.get("responses", {}), used)
    return "\n".join(lines) + "\n"


def _body(body: dict | None, used: set[str]) -> list[str]:
    if not body:
        return []
    lines = []
    for media, content in body.get("content", {}).items():
        schema = content.get("schema", {})
        if "$ref" in schema:
            lines.append(f"Body ({media}): {_type(schema, used)[0]}")
        elif schema.get("properties"):
            lines.append(f"Body ({media}):\n")
            lines += _field_table(schema, used)
        else:
            lines.append(f"Body: {media}")
    return lines + [""]


def _answers(responses: dict, used: set[str]) -> list[str]:
    lines = ["| answer | meaning |", "|---|---|"]
    for status, response in sorted(responses.items()):
        meaning = response.get("description", "")
        if ERRORS.get(status) == meaning:
            continue  # one of the common answers, listed once above
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema and status.startswith("2"):
            meaning = _type(schema, used)[0]
        elif meaning == "Successful Response":
            meaning = "success"
        lines.append(f"| {status} | {_cell(meaning)} |")
    return lines + [""]


def _schema_section(name: str, schema: dict) -> str:
    lines = [f'<a id="{name.lower()}"></a>', f"### {name}\n"]
    if schema.get("description"):
        lines += [_paragraph(schema["description"]), ""]
    if "enum" in schema:
        lines.append("One of " + ", ".join(f"`{value}`" for value in schema["enum"]) + ".")
    elif schema.get("properties"):
        lines += _field_table(schema, set())
    else:
        lines.append(_type(schema, set())[0])
    return "\n".join(lines) + "\n"


def _field_table(schema: dict, used: set[str]) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | required | notes |", "|---|---|---|---|"]
    for field, spec in schema["properties"].items():
        kind, notes = _type(spec, used)
        if "default" in spec and spec["default"] not in (None, [], {}):
            notes = "; ".join(filter(None, [f"default `{_literal(spec['default'])}`", notes]))
        notes = "; ".join(filter(None, [spec.get("description"), notes]))
        lines.append(f"| `{field}` | {kind} | {'yes' if field in required else ''} | {_cell(notes)} |")
    return lines


def _type(spec: dict, used: set[str]) -> tuple[str, str]:
    """A field's type in words, and its constraints."""
    if "$ref" in spec:
        name = _ref_name(spec["$ref"])
        used.add(name)
        return f"[{name}](#{name.lower()})", ""
    if "anyOf" in spec:
        kinds = [_type(option, used) for option in spec["anyOf"]]
        named = [kind for kind, _ in kinds if kind != "null"]
        nullable = len(named) < len(kinds)
        notes = "; ".join(filter(None, (note for _, note in kinds)))
        return " or ".join(named) + (" or null" if nullable else ""), notes
    kind = spec.get("type", "any")
    if kind == "array":
        item, notes = _type(spec.get("items", {}), used)
        return f"list of {item}", "; ".join(filter(None, [notes, _bounds(spec, "Items")]))
    if "enum" in spec:
        return kind, "one of " + ", ".join(f"`{value}`" for value in spec["enum"])
    if "const" in spec:
        return kind, f"`{spec['const']}`"
    return kind, _bounds(spec, "Length")


def _bounds(spec: dict, unit: str) -> str:
    """Length (strings) or Items (lists) limits and numeric ranges, in words."""
    counted = " characters" if unit == "Length" else " items"
    notes = [
        f"{word} {_literal(spec[key])}{counted}"
        for key, word in ((f"min{unit}", "at least"), (f"max{unit}", "at most"))
        if key in spec
    ]
    notes += [f"{word} {_literal(spec[key])}"
              for key, word in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"),
                                ("exclusiveMaximum", "<")) if key in spec]  # fmt: skip
    if spec.get("pattern"):
        notes.append(f"matches `{spec['pattern']}`")
    return ", ".join(notes)


def _closure(names: set[str], components: dict) -> set[str]:
    """The schemas named, and every schema they refer to."""
    seen, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        pending += [_ref_name(ref) for ref in _refs(components[name])]
    return seen


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _literal(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _paragraph(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _paragraph(text).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(render(create_app().openapi()))
