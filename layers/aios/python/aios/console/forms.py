"""HTML forms generated from a capability's params JSON schema, and their answers parsed back.

`fields(schema)` renders one labelled input per leaf of the schema (pydantic's
`model_json_schema()`: `$ref`/`$defs`, `anyOf` with null for optional fields, nested objects):

| schema                              | input                                   |
| ----------------------------------- | --------------------------------------- |
| `enum`                              | a select                                |
| `boolean`                           | a select (true / false)                 |
| `integer`, `number`                 | a number input with the schema's bounds |
| `string` (short)                    | a text input (`email` / `uri` typed)    |
| `string` (long, over 200 chars)     | a textarea                              |
| array of strings                    | a textarea, one item per line           |
| object with properties              | a fieldset of its properties            |
| any other object or array           | a textarea holding JSON                 |

Inputs are named `p.<dotted path>`. `params_from_form(schema, form)` turns the posted strings
back into typed values along the same schema; an empty optional field is left out; a value
that does not convert raises InvalidInput naming the field. The capability's own params model
validates the result afterwards: the form is a convenience, never the check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from aios.console.markup import esc
from aios.errors import InvalidInput

PREFIX = "p."
LONG_TEXT = 200
MAX_DEPTH = 6


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict((schema.get("$defs") or {}).get(ref.split("/")[-1]) or {})
    return node


def _leaf(schema: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The node with refs resolved and `anyOf [X, null]` unwrapped; True when null is allowed."""
    node = _resolve(schema, node)
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [_resolve(schema, o) for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **kept[0]}
            return merged, len(kept) < len(options)
    return node, False


def _kind(node: Mapping[str, Any]) -> str:
    if "enum" in node:
        return "enum"
    kind = node.get("type")
    if kind == "object":
        return "fieldset" if node.get("properties") else "json"
    if kind == "array":
        items = node.get("items") or {}
        return "lines" if items.get("type") == "string" else "json"
    if kind == "string" and int(node.get("maxLength") or LONG_TEXT + 1) > LONG_TEXT:
        return "text"
    return str(kind or "json")


def _walk(
    schema: Mapping[str, Any], node: Mapping[str, Any], path: str, required: bool, depth: int = 0
) -> Iterator[tuple[str, Mapping[str, Any], str, bool]]:
    """(dotted path, leaf node, kind, required) for every input of `node`."""
    node, nullable = _leaf(schema, node)
    kind = _kind(node)
    if kind == "fieldset" and depth < MAX_DEPTH:
        needed = set(node.get("required") or ())
        for name, child in (node.get("properties") or {}).items():
            child_path = f"{path}.{name}" if path else str(name)
            yield from _walk(schema, child, child_path, required and name in needed, depth + 1)
        return
    yield path, node, "json" if kind == "fieldset" else kind, required and not nullable


def _input(path: str, node: Mapping[str, Any], kind: str, required: bool) -> str:
    name = esc(PREFIX + path)
    attrs = f"id='{name}' name='{name}'" + (" required" if required else "")
    default = node.get("default")
    value = "" if default is None else default
    if kind == "enum":
        options = [] if required else ["<option value=''>(none)</option>"]
        options += [
            f"<option{' selected' if v == default else ''}>{esc(v)}</option>" for v in node["enum"]
        ]
        return f"<select {attrs}>{''.join(options)}</select>"
    if kind == "boolean":
        choices = ("", "true", "false") if not required else ("true", "false")
        return f"<select {attrs}>{''.join(f'<option>{c}</option>' for c in choices)}</select>"
    if kind in ("integer", "number"):
        bounds = "".join(
            f" {attr}='{esc(node[key])}'"
            for key, attr in (("minimum", "min"), ("maximum", "max"))
            if key in node
        )
        step = "1" if kind == "integer" else "any"
        return f"<input type=number step={step}{bounds} {attrs} value='{esc(value)}'>"
    if kind == "string":
        typed = {"email": "email", "uri": "url"}.get(str(node.get("format")), "text")
        limit = f" maxlength={int(node['maxLength'])}" if "maxLength" in node else ""
        return f"<input type={typed}{limit} {attrs} value='{esc(value)}'>"
    if kind == "lines":
        text = "\n".join(map(str, value)) if isinstance(value, list) else ""
        return f"<textarea {attrs}>{esc(text)}</textarea>"
    if kind == "json":
        text = json.dumps(value) if value != "" else ""
        return f"<textarea {attrs} placeholder='{{}}'>{esc(text)}</textarea>"
    return f"<textarea {attrs}>{esc(value)}</textarea>"


def _hint(node: Mapping[str, Any], kind: str) -> str:
    notes = {"lines": "one per line", "json": "JSON"}
    parts = [str(node["description"])] if node.get("description") else []
    if kind in notes:
        parts.append(notes[kind])
    return f"<span class=hint> {esc('; '.join(parts))}</span>" if parts else ""


def fields(schema: Mapping[str, Any]) -> str:
    """The labelled inputs of a params schema (see the module docstring)."""
    out = []
    for path, node, kind, required in _walk(schema, schema, "", True):
        label = esc(node.get("title") or path)
        mark = " *" if required else ""
        out.append(
            f"<label for='{esc(PREFIX + path)}'>{label}{mark} <code class=muted>{esc(path)}</code>"
            f"{_hint(node, kind)}</label>{_input(path, node, kind, required)}"
        )
    return "".join(out)


def _convert(path: str, kind: str, raw: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw else number
        if kind == "boolean":
            if raw not in ("true", "false"):
                raise ValueError("choose true or false")
            return raw == "true"
        if kind == "lines":
            return [line.strip() for line in raw.splitlines() if line.strip()]
        if kind == "json":
            return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{path}: {exc}", field=path) from exc
    return raw


def params_from_form(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """Typed params from the posted form along the schema; raises InvalidInput naming a field."""
    params: dict[str, Any] = {}
    for path, _node, kind, required in _walk(schema, schema, "", True):
        raw = form.get(PREFIX + path, "")
        if kind not in ("text", "string", "lines"):
            raw = raw.strip()
        if raw == "" and (not required or kind not in ("string", "text")):
            continue
        target = params
        *parents, last = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = _convert(path, kind, raw)
    return params
