"""``GET /openapi.json`` (OpenAPI 3.1) and ``GET /docs``: the API's contract, from the models the routes validate with.

The schemas come from :mod:`sentiment_lib.serving.schemas` (the request models carry this server's limits);
the operations below list what each route takes, what it answers and every error status it can return
(tests/integration/serving/test_openapi.py provokes each one on a real server). ``/docs`` renders the same document as
plain HTML on the server: no script, no CDN.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from sentiment_lib.serving import schemas as s

REF = "#/components/schemas/{model}"
CSV_EXAMPLE = "id,Review\n1,A warm and funny film\n2,Never again\n"
PREDICT_EXAMPLE = {"sentiment": "positive", "confidence": 0.97, "model_version": "3"}
EXPLAIN_EXAMPLE = {
    "sentiment": "negative",
    "confidence": 0.93,
    "model_version": "3",
    "tokens": [{"token": "not", "weight": -0.61}, {"token": "good", "weight": 0.12}],
}
BATCH_EXAMPLE = {
    "predictions": [{"sentiment": "positive", "confidence": 0.97}, {"sentiment": "negative", "confidence": 0.91}],
    "model_version": "3",
}
ERRORS = {
    400: "the body does not match the request schema; the message says which field and why",
    401: "a missing or wrong token or API key (Authorization: Bearer <token or key>, or X-API-Key)",
    403: "open only to clients on the server's own host, or with ADMIN_TOKEN (README: Security)",
    404: "no such file, card, or endpoint",
    413: "over a size limit (body bytes, batch characters or form parts); the message says which",
    415: "the wrong Content-Type",
    429: "over the rate limit of this API key or address (Retry-After says when to retry)",
    503: "no model is loaded, or the model is busy (Retry-After says when to retry)",
}


def _json(model: type[BaseModel] | str, example: Any = None) -> dict:
    schema = {"$ref": REF.format(model=model if isinstance(model, str) else model.__name__)}
    body = {"schema": schema}
    if example is not None:
        body["example"] = example
    return {"application/json": body}


def _errors(*statuses: int) -> dict:
    return {str(code): {"description": ERRORS[code], "content": _json(s.ErrorResponse)} for code in statuses}


def _text(media: str, description: str, example: str | None = None) -> dict:
    content: dict[str, Any] = {"schema": {"type": "string"}}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {media: content}}


def _operations() -> dict[str, dict]:
    predict = {
        "post": {
            "summary": "Classify one review",
            "requestBody": {"required": True, "content": _json("PredictRequest", {"review": s.REVIEW_EXAMPLE})},
            "responses": {
                "200": {
                    "description": "the label and its confidence",
                    "content": _json(s.PredictResponse, PREDICT_EXAMPLE),
                },
                **_errors(400, 401, 413, 415, 429, 503),
            },
        }
    }
    batch = {
        "post": {
            "summary": "Classify many reviews: a JSON list, or a CSV with a Review column",
            "parameters": [
                {
                    "name": "csv_safe",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "boolean", "default": False},
                    "description": "CSV answers only: prefix cells a spreadsheet would run as formulas with '",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    **_json("BatchPredictRequest", {"reviews": ["Loved it", "Never again"]}),
                    "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
                    "multipart/form-data": {
                        "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                    },
                },
            },
            "responses": {
                "200": {
                    "description": "one prediction per review, in order (a CSV gets its own columns back with "
                    "sentiment and confidence added, and the version in X-Model-Version)",
                    "content": {
                        **_json(s.BatchPredictResponse, BATCH_EXAMPLE),
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_errors(400, 401, 413, 415, 429, 503),
            },
        }
    }
    explain = {
        "post": {
            "summary": "Explain one prediction: each word's weight, found by leaving it out",
            "requestBody": {"required": True, "content": _json("PredictRequest", {"review": "not good"})},
            "responses": {
                "200": {
                    "description": "the label, its confidence, and each token's signed weight (not logged as traffic)",
                    "content": _json(s.ExplainResponse, EXPLAIN_EXAMPLE),
                },
                **_errors(400, 401, 413, 415, 429, 503),
            },
        }
    }
    return {
        "/predict": predict,
        "/batch_predict": batch,
        "/explain": explain,
        "/health": {
            "get": {
                "summary": "Whether the server can answer",
                "responses": {
                    "200": {"description": "serving", "content": _json(s.HealthResponse)},
                    "503": {
                        "description": "no model loaded, or a model call stuck",
                        "content": _json(s.HealthResponse),
                    },
                },
            }
        },
        "/model": {
            "get": {
                "summary": "The served version and its evaluation metrics",
                "responses": {
                    "200": {"description": "the version", "content": _json(s.ModelResponse)},
                    **_errors(401, 403, 503),
                },
            }
        },
        "/model/card": {
            "get": {
                "summary": "The served version's model card",
                "responses": {"200": _text("text/markdown", "the card, in Markdown"), **_errors(401, 403, 404, 503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": _text("text/plain", "text exposition format"), **_errors(401, 403)},
            }
        },
        "/status": {
            "get": {
                "summary": "The operator's status page (also at /)",
                "responses": {"200": _text("text/html", "the page"), **_errors(401, 403)},
            }
        },
        "/reports/{name}": {
            "get": {
                "summary": "A file under reports/, read-only",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the file"}, **_errors(401, 403, 404)},
            }
        },
        "/admin/reload": {
            "post": {
                "summary": "Load the current champion now (exists only when ADMIN_TOKEN is set)",
                "security": [{"adminToken": []}],
                "responses": {
                    "200": {"description": "reloaded, or already current", "content": _json(s.ReloadResponse)},
                    **_errors(401, 404, 503),
                },
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/docs": {"get": {"summary": "This document as a page", "responses": {"200": _text("text/html", "the page")}}},
    }


def document(api_schemas: s.ApiSchemas, version: str) -> dict:
    """The OpenAPI 3.1 document of an app with ``api_schemas``' limits."""
    models = [api_schemas.predict, api_schemas.batch, s.PredictResponse, s.BatchPredictResponse, s.ErrorResponse]
    models += [s.ExplainResponse]
    models += [s.HealthResponse, s.ModelResponse, s.ReloadResponse]
    _, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sentiment pipeline API",
            "version": version,
            "description": "Classifies English reviews as positive or negative with the registered @champion model.",
        },
        "servers": [{"url": "/"}],
        "paths": _operations(),
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def docs_page(spec: dict) -> str:
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
