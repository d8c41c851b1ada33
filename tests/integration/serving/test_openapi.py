"""/openapi.json is a valid OpenAPI 3.1 document that tells the truth: every example it shows works on a real
server and answers in its documented shape, every status it documents is one the server really returns (in
the documented shape), and every route of the app is in it."""

from __future__ import annotations

import json
import secrets

import jsonschema
import pytest
from openapi_spec_validator import validate

from sentiment_lib.serving import api_keys
from sentiment_lib.serving.api import ServeConfig, openapi_document
from sentiment_lib.serving.route_spec import spec_of
from tests.helpers import REPO, as_json

pytestmark = pytest.mark.slow
TOKEN = secrets.token_urlsafe(16)
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(served_workspace, module_live_server):
    return module_live_server(served_workspace, {"ADMIN_TOKEN": TOKEN, "SENTIMENT_SERVE_REFRESH_SECONDS": "0"})


@pytest.fixture(scope="module")
def spec(server):
    status, body, _ = server.request("GET", "/openapi.json")
    assert status == 200
    return as_json(body)


def test_the_document_without_a_server_is_the_one_a_server_serves(spec):
    """docs/serving.md tells users to print it with openapi_document(); it must be the served one."""
    assert openapi_document(ServeConfig()) == spec


def test_the_docs_hold_the_document_the_routes_generate(spec):
    published = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert published == spec, "regenerate docs/openapi.json with the command in docs/serving.md"


def schema_of(spec: dict, content: dict) -> dict:
    """A media type's schema, resolvable on its own (the document's components as ``$defs``)."""
    ref = content["schema"]["$ref"].replace("#/components/schemas/", "#/$defs/")
    return {"$ref": ref, "$defs": json.loads(json.dumps(spec["components"]["schemas"]).replace(
        "#/components/schemas/", "#/$defs/"))}  # fmt: skip


def conforms(spec: dict, content: dict, value) -> None:
    jsonschema.validate(value, schema_of(spec, content), cls=jsonschema.Draft202012Validator)


def test_the_document_is_valid_openapi_3_1_with_this_servers_limits(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    review = spec["components"]["schemas"]["PredictRequest"]["properties"]["review"]
    assert review["maxLength"] == 5000 and review["minLength"] == 1
    assert spec["components"]["schemas"]["BatchPredictRequest"]["properties"]["reviews"]["maxItems"] == 1000


def test_every_documented_example_works_and_answers_in_the_documented_shape(server, spec):
    sent = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for media, body in operation.get("requestBody", {}).get("content", {}).items():
                if "example" not in body:
                    continue
                payload = body["example"].encode() if media == "text/csv" else json.dumps(body["example"]).encode()
                status, answer, headers = server.request(method.upper(), path, payload, {"Content-Type": media})
                assert status == 200, (path, media, answer[:300])
                documented = operation["responses"]["200"]["content"]
                if media == "application/json":
                    conforms(spec, documented["application/json"], as_json(answer))
                else:
                    assert headers["Content-Type"].startswith("text/csv") and b"sentiment,confidence" in answer
                sent += 1
            for answer in operation["responses"].values():
                for content in answer.get("content", {}).values():
                    if "example" in content and "$ref" in content.get("schema", {}):
                        conforms(spec, content, content["example"])  # the examples of answers are right too
    assert sent == 4  # /predict, /explain, and /batch_predict as JSON and as CSV


def test_the_docs_page_renders_the_document_offline(server, spec):
    status, body, headers = server.request("GET", "/docs")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert page.count("class='operation'") == sum(len(ops) for ops in spec["paths"].values())
    assert "<script" not in page and "https://" not in page and "A warm, funny film" in page


@pytest.fixture(scope="module")
def no_model(tmp_path_factory, module_live_server):
    """A real server (its own process: MLflow's tracking URI is per process) with no champion to serve."""
    return module_live_server(tmp_path_factory.mktemp("no-model"), {"ADMIN_TOKEN": TOKEN}, health=503)


@pytest.fixture(scope="module")
def off_loopback(served_workspace, module_make_app):
    """Clients calling from another host: an app with a token, and one without."""

    def remote_client(**config):
        client = module_make_app(served_workspace, **config).test_client()
        client.environ_base["REMOTE_ADDR"] = "192.0.2.8"
        return client

    return remote_client(admin_token=TOKEN), remote_client()


@pytest.fixture(scope="module")
def guarded(served_workspace, tmp_path_factory, module_make_app):
    """An app that wants API keys, and one that allows one prediction request a minute."""
    keys = tmp_path_factory.mktemp("keys") / "keys.txt"
    api_keys.add_key(keys, "docs")

    def app(**config):
        return module_make_app(served_workspace, **config).test_client()

    return app(api_keys_file=str(keys)), app(rate_limit_per_minute=1, rate_limit_burst=1)


def test_every_route_of_the_app_declares_itself_and_is_in_the_document(served_workspace, spec, make_app):
    app = make_app(served_workspace)
    routes = {(rule.rule, rule.endpoint) for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    undeclared = {route for route in routes if spec_of(app.view_functions[route[1]]) is None}
    assert not undeclared  # a new route needs @documented (sentiment_lib/serving/route_spec.py)
    paths = {rule.replace("<path:name>", "{name}") for rule, _ in routes}
    assert paths == set(spec["paths"])


def conforms_as_documented(spec: dict, key: tuple[str, str, str], answer: tuple[int, bytes, str]) -> None:
    """A JSON answer matches the schema documented for its path, method and status."""
    path, method, status = key
    _, body, content_type = answer
    documented = spec["paths"][path][method]["responses"][status].get("content", {})
    if not documented:
        return  # any body: a report file, this document
    assert any(content_type.startswith(media) for media in documented), (key, content_type)
    if content_type.startswith("application/json"):
        conforms(spec, documented["application/json"], as_json(body))


def test_every_documented_status_is_one_the_server_returns_in_its_documented_shape(
    server, spec, no_model, off_loopback, guarded, served_workspace, make_app
):
    tokened, token_less = off_loopback
    keyed, limited = guarded
    untokened = make_app(served_workspace).test_client()
    big = b'{"review": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    admin, wrong = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer no"}
    text = {"Content-Type": "text/plain"}

    def live(method, path, body=None, headers=None, on=server):
        def call():
            status, answer, answer_headers = on.request(method, path, body, headers)
            return status, answer, answer_headers.get("Content-Type", "")

        return call

    def local(client, method, path, **options):
        def call():
            response = client.open(path, method=method, **options)
            return response.status_code, response.data, response.content_type or ""

        return call

    def twice(client, path, body):  # the second call of a client allowed one a minute
        return lambda: [local(client, "POST", path, data=body, headers=JSON)() for _ in range(2)][-1]

    provoke = {
        ("/predict", "post", "200"): live("POST", "/predict", b'{"review": "fine"}', JSON),
        ("/predict", "post", "400"): live("POST", "/predict", b"{}", JSON),
        ("/predict", "post", "401"): local(keyed, "POST", "/predict", data=b'{"review": "fine"}', headers=JSON),
        ("/predict", "post", "429"): twice(limited, "/predict", b'{"review": "fine"}'),
        ("/predict", "post", "413"): local(untokened, "POST", "/predict", data=big, headers=JSON),
        ("/predict", "post", "415"): live("POST", "/predict", b"x", text),
        ("/predict", "post", "503"): live("POST", "/predict", b'{"review": "x"}', JSON, on=no_model),
        ("/explain", "post", "200"): live("POST", "/explain", b'{"review": "not bad"}', JSON),
        ("/explain", "post", "400"): live("POST", "/explain", b"{}", JSON),
        ("/explain", "post", "401"): local(keyed, "POST", "/explain", data=b'{"review": "fine"}', headers=JSON),
        ("/explain", "post", "429"): twice(limited, "/explain", b'{"review": "fine"}'),
        ("/explain", "post", "413"): local(untokened, "POST", "/explain", data=big, headers=JSON),
        ("/explain", "post", "415"): live("POST", "/explain", b"x", text),
        ("/explain", "post", "503"): live("POST", "/explain", b'{"review": "x"}', JSON, on=no_model),
        ("/batch_predict", "post", "200"): live("POST", "/batch_predict", b'{"reviews": ["a"]}', JSON),
        ("/batch_predict", "post", "400"): live("POST", "/batch_predict", b'{"reviews": []}', JSON),
        ("/batch_predict", "post", "401"): local(keyed, "POST", "/batch_predict", data=b"{}", headers=JSON),
        ("/batch_predict", "post", "429"): twice(limited, "/batch_predict", b'{"reviews": ["a"]}'),
        ("/batch_predict", "post", "413"): local(untokened, "POST", "/batch_predict", data=big, headers=JSON),
        ("/batch_predict", "post", "415"): live("POST", "/batch_predict", b"x", text),
        ("/batch_predict", "post", "503"): live("POST", "/batch_predict", b'{"reviews": ["x"]}', JSON, on=no_model),
        ("/health", "get", "200"): live("GET", "/health"),
        ("/health", "get", "503"): live("GET", "/health", on=no_model),
        ("/model", "get", "200"): live("GET", "/model"),
        ("/model", "get", "401"): local(tokened, "GET", "/model"),
        ("/model", "get", "403"): local(token_less, "GET", "/model"),
        ("/model", "get", "503"): live("GET", "/model", on=no_model),
        ("/model/card", "get", "200"): None,  # test_pipeline_smoke: a trained and evaluated version has one
        ("/model/card", "get", "404"): live("GET", "/model/card"),  # this version was registered without one
        ("/model/card", "get", "401"): local(tokened, "GET", "/model/card"),
        ("/model/card", "get", "403"): local(token_less, "GET", "/model/card"),
        ("/model/card", "get", "503"): live("GET", "/model/card", on=no_model),
        ("/metrics", "get", "200"): live("GET", "/metrics"),
        ("/metrics", "get", "401"): local(tokened, "GET", "/metrics"),
        ("/metrics", "get", "403"): local(token_less, "GET", "/metrics"),
        ("/status", "get", "200"): live("GET", "/status"),
        ("/status", "get", "401"): local(tokened, "GET", "/status"),
        ("/status", "get", "403"): local(token_less, "GET", "/status"),
        ("/", "get", "200"): live("GET", "/"),
        ("/", "get", "401"): local(tokened, "GET", "/"),
        ("/", "get", "403"): local(token_less, "GET", "/"),
        ("/reports/{name}", "get", "200"): None,  # test_status_page: reports are served
        ("/reports/{name}", "get", "401"): local(tokened, "GET", "/reports/index.html"),
        ("/reports/{name}", "get", "403"): local(token_less, "GET", "/reports/index.html"),
        ("/reports/{name}", "get", "404"): live("GET", "/reports/no-such-file.html"),
        ("/admin/reload", "post", "200"): live("POST", "/admin/reload", b"", admin),
        ("/admin/reload", "post", "401"): live("POST", "/admin/reload", b"", wrong),
        ("/admin/reload", "post", "404"): local(untokened, "POST", "/admin/reload"),
        ("/admin/reload", "post", "503"): live("POST", "/admin/reload", b"", admin, on=no_model),
        ("/openapi.json", "get", "200"): live("GET", "/openapi.json"),
        ("/docs", "get", "200"): live("GET", "/docs"),
    }
    documented = {(p, m, s) for p, ops in spec["paths"].items() for m, op in ops.items() for s in op["responses"]}
    assert documented == set(provoke)  # a status added to the document needs a case here
    answers = {key: fn() for key, fn in provoke.items() if fn is not None}
    assert {key: int(key[2]) for key in answers} == {key: answer[0] for key, answer in answers.items()}
    for key, answer in answers.items():
        conforms_as_documented(spec, key, answer)
