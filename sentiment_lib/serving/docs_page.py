"""``GET /docs``: the OpenAPI document as one plain HTML page, rendered on the server with no script and no CDN,
so it works offline."""

from __future__ import annotations

import html
import json
from typing import Any


def render(spec: dict) -> str:
    """The document as one HTML page: each operation, its request examples, its answers and the schemas."""
    sections = [_operation_html(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    models = "".join(
        f"<h3 id='schema-{html.escape(name)}'>{html.escape(name)}</h3><pre>{_example(schema)}</pre>"
        for name, schema in spec["components"]["schemas"].items()
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>API: "
        f"{html.escape(spec['info']['title'])}</title><style>body {{ font-family: system-ui, sans-serif; "
        "margin: 2rem auto; max-width: 60rem; }} pre {{ background: #f6f6f6; padding: .6rem; overflow-x: auto; }} "
        ".method {{ font-weight: bold; text-transform: uppercase; }}</style></head><body>"
        f"<h1>{html.escape(spec['info']['title'])} <small>{html.escape(spec['info']['version'])}</small></h1>"
        f"<p>{html.escape(spec['info']['description'])} Machine-readable: <a href='openapi.json'>openapi.json</a>.</p>"
        f"{''.join(sections)}<h2>Schemas</h2>{models}</body></html>"
    )


def _operation_html(path: str, method: str, op: dict) -> str:
    parts = [
        f"<section class='operation'><h2><span class='method'>{method}</span> <code>{html.escape(path)}</code></h2>"
    ]
    parts.append(f"<p>{html.escape(op.get('summary', ''))}</p>")
    for media, body in op.get("requestBody", {}).get("content", {}).items():
        if "example" in body:
            parts.append(f"<h4>Request ({html.escape(media)})</h4><pre>{_example(body['example'])}</pre>")
    items = []
    for status, answer in op["responses"].items():
        example = next((c["example"] for c in answer.get("content", {}).values() if "example" in c), None)
        shown = f"<pre>{_example(example)}</pre>" if example is not None else ""
        items.append(f"<li><strong>{status}</strong>: {html.escape(answer['description'])}{shown}</li>")
    parts.append(f"<ul>{''.join(items)}</ul></section>")
    return "".join(parts)


def _example(value: Any) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False))
