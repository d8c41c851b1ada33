"""``GET /openapi.json`` (OpenAPI 3.1): the API's contract, built from what the routes declare.

Every view decorated with :func:`sentiment_lib.serving.route_spec.documented` becomes an operation of each of
its URL rules; the schemas are the pydantic models the routes declare, with the request models this app
built from its limits (:class:`sentiment_lib.serving.schemas.ApiSchemas`), so the document states the limits
the server really enforces. /docs renders it: :mod:`sentiment_lib.serving.docs_page`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from sentiment_lib.serving.route_spec import Answer, Body, RouteSpec, spec_of
from sentiment_lib.serving.schemas import ApiSchemas

REF = "#/components/schemas/{model}"
_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")  # werkzeug's <converter:name> and <name>
_IMPLICIT_METHODS = {"HEAD", "OPTIONS"}  # added by Flask to every rule; not part of the contract
SECURITY_SCHEMES = {"adminToken": {"type": "http", "scheme": "bearer"}}


def build_document(app: Flask, api_schemas: ApiSchemas, version: str) -> dict:
    """The OpenAPI 3.1 document of ``app``'s declared routes, its request models those of ``api_schemas``."""
    paths: dict[str, dict] = {}
    models: list[type[BaseModel]] = []
    for rule, spec in _declared_rules(app):
        path = _ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(spec, _ARGUMENT.findall(rule.rule), api_schemas)
        models += _models_of(spec, api_schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sentiment pipeline API",
            "version": version,
            "description": "Classifies English reviews as positive or negative with the registered @champion model.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": _components(models), "securitySchemes": SECURITY_SCHEMES},
    }


def _declared_rules(app: Flask) -> Iterator[tuple[Rule, RouteSpec]]:
    """Each URL rule whose view declares itself, in the order the routes were registered."""
    for rule in app.url_map.iter_rules():
        spec = spec_of(app.view_functions[rule.endpoint])
        if spec is not None:
            yield rule, spec


def _models_of(spec: RouteSpec, api_schemas: ApiSchemas) -> list[type[BaseModel]]:
    found = [api_schemas.for_app(spec.request.model)] if spec.request else []
    return found + [answer.model for answer in spec.responses.values() if answer.model is not None]


def _components(models: list[type[BaseModel]]) -> dict[str, Any]:
    unique = list(dict.fromkeys(models))
    _, definitions = models_json_schema([(model, "validation") for model in unique], ref_template=REF)
    return definitions.get("$defs", {})


def _operation(spec: RouteSpec, path_arguments: list[str], api_schemas: ApiSchemas) -> dict:
    operation: dict[str, Any] = {"summary": spec.summary}
    parameters = [_path_parameter(name) for name in path_arguments] + _query_parameters(spec.query)
    if parameters:
        operation["parameters"] = parameters
    if spec.request is not None:
        operation["requestBody"] = _request_body(spec.request, api_schemas)
    if spec.security:
        operation["security"] = [{scheme: []} for scheme in spec.security]
    operation["responses"] = {str(status): _response(answer) for status, answer in spec.responses.items()}
    return operation


def _path_parameter(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query_parameters(query: type[BaseModel] | None) -> list[dict]:
    """One parameter per field of ``query``, its description lifted out of the field's schema."""
    if query is None:
        return []
    schema = query.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, field in schema["properties"].items():
        field = {key: value for key, value in field.items() if key != "title"}
        description = field.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _request_body(body: Body, api_schemas: ApiSchemas) -> dict:
    content = _json_content(api_schemas.for_app(body.model), body.example)
    for media, example in body.text_examples.items():
        content[media] = {"schema": {"type": "string"}, "example": example}
    if body.file_upload:
        file_part = {"file": {"type": "string", "format": "binary"}}
        content["multipart/form-data"] = {"schema": {"type": "object", "properties": file_part}}
    return {"required": True, "content": content}


def _response(answer: Answer) -> dict:
    content = _json_content(answer.model, answer.example) if answer.model is not None else {}
    content.update({media: {"schema": {"type": "string"}} for media in answer.text})
    return {"description": answer.description, "content": content} if content else {"description": answer.description}


def _json_content(model: type[BaseModel], example: Any) -> dict:
    body: dict[str, Any] = {"schema": {"$ref": REF.format(model=model.__name__)}}
    if example is not None:
        body["example"] = example
    return {"application/json": body}
