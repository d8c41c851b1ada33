"""The document is built from what routes declare: their URL rules, methods, parameters, statuses and models,
with the request models of the app's own limits; a route that declares nothing is left out."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from sentiment_lib.serving import openapi
from sentiment_lib.serving.route_spec import Answer, Body, declared_request, documented, errors, spec_of
from sentiment_lib.serving.schemas import ApiSchemas, BatchPredictRequest, ErrorResponse, PredictResponse


class Page(BaseModel):
    page: int = Field(1, description="which page")


SCORE_BODY = Body(BatchPredictRequest, example={"reviews": ["fine"]}, text_examples={"text/csv": "Review\nfine\n"})


def toy_app() -> Flask:
    app = Flask(__name__)

    @app.post("/score")
    @documented("Score", {200: Answer("scored", PredictResponse), **errors(503, 400)}, request=SCORE_BODY)
    def score():
        return jsonify(declared_request().__name__)

    @app.get("/items/<path:name>")
    @documented("An item", {200: Answer("the item", text=("text/plain",))}, query=Page, security=("adminToken",))
    def item(name: str):
        return name

    @app.get("/hidden")
    def hidden():
        return "not in the document"

    return app


@pytest.fixture
def document():
    return openapi.build_document(toy_app(), ApiSchemas(max_review_chars=10, max_batch_items=3), "0.0")


def test_each_declared_rule_is_an_operation_and_the_rest_are_left_out(document):
    validate(document)
    assert list(document["paths"]) == ["/score", "/items/{name}"]
    assert list(document["paths"]["/score"]) == ["post"]  # not HEAD or OPTIONS
    assert list(document["paths"]["/score"]["post"]["responses"]) == ["200", "400", "503"]


def test_parameters_come_from_the_rule_and_the_query_model(document):
    item = document["paths"]["/items/{name}"]["get"]
    assert item["parameters"] == [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "page", "in": "query", "required": False, "schema": {"default": 1, "type": "integer"},
         "description": "which page"},
    ]  # fmt: skip
    assert item["security"] == [{"adminToken": []}]
    assert item["responses"]["200"] == {
        "description": "the item",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }


def test_request_models_state_the_apps_own_limits(document):
    body = document["paths"]["/score"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchPredictRequest"}
    assert body["content"]["text/csv"]["example"] == "Review\nfine\n"
    schemas = document["components"]["schemas"]
    reviews = schemas["BatchPredictRequest"]["properties"]["reviews"]
    assert reviews["maxItems"] == 3 and reviews["items"]["maxLength"] == 10
    assert {"PredictResponse", "ErrorResponse"} <= set(schemas)


def test_a_route_validates_with_the_model_it_declares():
    app = toy_app()
    assert spec_of(app.view_functions["hidden"]) is None
    assert app.test_client().post("/score").get_json() == "BatchPredictRequest"
    assert ApiSchemas(10, 3).for_app(BatchPredictRequest).model_json_schema()["properties"]["reviews"]["maxItems"] == 3
    assert errors(401)[401].model is ErrorResponse
