"""The HTTP API against the Flask test client and against a real server on loopback, with a real registry."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.helpers import as_json, run_runner

pytestmark = pytest.mark.slow
TOKEN = secrets.token_urlsafe(16)  # made per run: no credential-looking literal in the repository
JSON = {"Content-Type": "application/json"}


class FlaskClient:
    """The Flask test client behind the same ``request`` interface as LiveServer."""

    def __init__(self, app):
        self.client = app.test_client()

    def request(self, method, path, body=None, headers=None):
        response = self.client.open(path, method=method, data=body, headers=headers or {})
        return response.status_code, response.data, dict(response.headers)


@pytest.fixture(scope="module", params=["test-client", "live-server"])
def api(request, served_workspace, module_live_server, module_make_app):
    if request.param == "test-client":
        yield FlaskClient(module_make_app(served_workspace, admin_token=TOKEN))
        return
    yield module_live_server(served_workspace, {"ADMIN_TOKEN": TOKEN, "SENTIMENT_SERVE_REFRESH_SECONDS": "0"})


def post_json(api, path, payload):
    return api.request("POST", path, json.dumps(payload).encode(), JSON)


BAD_INPUTS = [
    ("body not JSON", "/predict", b"{not json", JSON, 400, "not valid JSON"),
    ("JSON but not an object", "/predict", b'["a review"]', JSON, 400, "must be a JSON object"),
    ("wrong content type", "/predict", b'{"review": "fine"}', {"Content-Type": "text/plain"}, 415, "application/json"),
    ("missing review", "/predict", b"{}", JSON, 400, 'Missing field \\"review\\"'),
    ("explain without a review", "/explain", b'{"text": "fine"}', JSON, 400, 'Missing field \\"review\\"'),
    ("explain an empty review", "/explain", b'{"review": ""}', JSON, 400, "is empty"),
    ("review not a string", "/predict", b'{"review": 5}', JSON, 400, "must be a string, got int"),
    ("review null", "/predict", b'{"review": null}', JSON, 400, "must be a string, got NoneType"),
    ("empty review", "/predict", b'{"review": ""}', JSON, 400, "is empty"),
    ("whitespace review", "/predict", b'{"review": " \\n\\t "}', JSON, 400, "is empty"),
    (
        "review too long",
        "/predict",
        json.dumps({"review": "a" * 5001}).encode(),
        JSON,
        400,
        "has 5001 characters; the limit is 5000",
    ),
    ("reviews not a list", "/batch_predict", b'{"reviews": "one"}', JSON, 400, "must be a list"),
    ("reviews missing", "/batch_predict", b'{"review": "one"}', JSON, 400, 'Missing field \\"reviews\\"'),
    ("empty list", "/batch_predict", b'{"reviews": []}', JSON, 400, "the list is empty"),
    (
        "too many reviews",
        "/batch_predict",
        json.dumps({"reviews": ["ok"] * 1001}).encode(),
        JSON,
        400,
        "1001 reviews in one request; the limit is 1000",
    ),
    ("non-string item", "/batch_predict", b'{"reviews": ["good", 3]}', JSON, 400, '\\"reviews\\"[1] must be a string'),
    ("empty item", "/batch_predict", b'{"reviews": ["good", "  "]}', JSON, 400, '\\"reviews\\"[1] is empty'),
    ("CSV without Review", "/batch_predict", b"text\ngood\n", {"Content-Type": "text/csv"}, 400, "no 'Review' column"),
    ("CSV undecodable", "/batch_predict", b"Review\ncaf\xe9\n", {"Content-Type": "text/csv"}, 400, "not valid UTF-8"),
    (
        "CSV empty review",
        "/batch_predict",
        b'Review\ngood\n""\n',
        {"Content-Type": "text/csv"},
        400,
        "row 3 of the CSV is empty",
    ),
    ("batch wrong type", "/batch_predict", b"hello", {"Content-Type": "text/plain"}, 415, "Send JSON"),
    (
        "JSON nested 100,000 deep",
        "/predict",
        b'{"review": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        JSON,
        400,
        "nested",
    ),
    ("lone surrogate", "/predict", b'{"review": "bad \\ud800 text"}', JSON, 400, "not valid Unicode"),
    ("NaN review", "/predict", b'{"review": NaN}', JSON, 400, "must be a string, got float"),
    ("admin without token", "/admin/reload", b"", {}, 401, "admin token"),
    ("admin wrong token", "/admin/reload", b"", {"Authorization": "Bearer nope"}, 401, "admin token"),
]


@pytest.mark.parametrize(
    ("case", "path", "body", "headers", "status", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_gets_a_json_error(api, case, path, body, headers, status, message):
    code, payload, response_headers = api.request("POST", path, body, headers)
    assert code == status, payload[:300]
    assert response_headers["Content-Type"].startswith("application/json")
    assert message in payload.decode(), payload[:300]
    # and the worker is still there
    assert post_json(api, "/predict", {"review": "still alive?"})[0] == 200


def test_a_body_over_the_limit_gets_a_json_413_from_flask(served_workspace, make_app):
    # the live server refuses it earlier, in waitress: see tests/integration/serving/test_pressure.py
    app = make_app(served_workspace)
    response = app.test_client().post("/predict", data=b"x" * (6 * 1024 * 1024), headers=JSON)
    assert response.status_code == 413
    assert "larger than the limit of 5242880 bytes" in response.get_json()["error"]


def test_predict(api):
    code, payload, _ = post_json(api, "/predict", {"review": "A warm, funny film 🎬 — très bien!"})
    assert code == 200
    body = as_json(payload)
    assert set(body) == {"sentiment", "confidence", "model_version"}
    assert body["sentiment"] in {"positive", "negative"}
    assert 0.5 <= body["confidence"] <= 1
    assert body["model_version"] == "1"


def positive_probability(answer: dict) -> float:
    return answer["confidence"] if answer["sentiment"] == "positive" else 1 - answer["confidence"]


def test_explain_weighs_each_word_by_what_leaving_it_out_changes(api):
    text = "The flight was not good, but @united was kind!"
    code, payload, _ = post_json(api, "/explain", {"review": text})
    assert code == 200, payload[:300]
    body = as_json(payload)
    assert set(body) == {"sentiment", "confidence", "model_version", "tokens"} and body["model_version"] == "1"
    tokens = [t["token"] for t in body["tokens"]]
    assert tokens == ["The", "flight", "was", "not", "good", ",", "but", "@united", "was", "kind", "!"]
    assert as_json(post_json(api, "/predict", {"review": text})[1])["confidence"] == body["confidence"]
    # each weight is P(positive) of the text minus P(positive) of the text without that token
    without = ["The flight was good, but @united was kind!", "The flight was not good but @united was kind!"]
    answers = as_json(post_json(api, "/batch_predict", {"reviews": without})[1])["predictions"]
    full = positive_probability(body)
    for i, answer in zip((3, 5), answers, strict=True):
        assert body["tokens"][i]["weight"] == pytest.approx(full - positive_probability(answer), abs=2e-6)


def test_batch_predict_json_keeps_order_and_equals_live(api):
    texts = ["A warm, funny film", "dull", "電影很好看", "Awful acting, worse plot 😡", "ok " * 200]
    code, payload, _ = post_json(api, "/batch_predict", {"reviews": texts})
    assert code == 200
    batch = as_json(payload)
    assert batch["model_version"] == "1"
    live = [as_json(post_json(api, "/predict", {"review": t})[1]) for t in texts]
    # the same texts get the same answers online and in a batch (the int8 model has fixed scales)
    assert [p["sentiment"] for p in batch["predictions"]] == [p["sentiment"] for p in live]
    assert [p["confidence"] for p in batch["predictions"]] == [p["confidence"] for p in live]


def test_batch_predict_csv_upload_returns_csv(api):
    csv_body = 'id,Review,extra\n1,great fun,x\n2,"boring, long",y\n'
    for headers, body in [
        ({"Content-Type": "text/csv"}, csv_body.encode()),
        (
            {"Content-Type": "multipart/form-data; boundary=XyZ"},
            (
                '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="in.csv"\r\n'
                f"Content-Type: text/csv\r\n\r\n{csv_body}\r\n--XyZ--\r\n"
            ).encode(),
        ),
    ]:
        code, payload, response_headers = api.request("POST", "/batch_predict", body, headers)
        assert code == 200, payload[:300]
        assert response_headers["Content-Type"].startswith("text/csv")
        lines = payload.decode().splitlines()
        assert lines[0] == "id,Review,extra,sentiment,confidence"
        assert lines[2].startswith('2,"boring, long",y,')
        assert response_headers["X-Model-Version"] == "1"


def test_health_and_model(api):
    code, payload, _ = api.request("GET", "/health")
    assert (code, as_json(payload)) == (200, {"status": "ok", "model_version": "1"})
    code, payload, _ = api.request("GET", "/model")
    info = as_json(payload)
    assert code == 200
    assert info["model_version"] == "1" and info["backend"] == "onnx-int8"
    assert info["registered_at"].startswith("20")
    assert info["encoder_layers"] is None  # registered without the tag, as versions were before it


def test_admin_reload_with_the_token(api):
    code, payload, _ = api.request("POST", "/admin/reload", b"", {"Authorization": f"Bearer {TOKEN}"})
    assert code == 200
    assert as_json(payload)["model_version"] == "1"


def test_health_is_503_without_a_champion(tmp_path, make_app):
    app = make_app(tmp_path)
    client = app.test_client()
    response = client.get("/health")
    assert response.status_code == 503, (response.get_json(), str(tmp_path))
    assert response.get_json()["reason"].startswith("Model unavailable")  # the why is logged, not answered
    response = client.post("/predict", json={"review": "hello"})
    assert response.status_code == 503 and "Model unavailable" in response.get_json()["error"]


def test_admin_reload_absent_without_admin_token(served_workspace, make_app):
    app = make_app(served_workspace, admin_token="")
    assert app.test_client().post("/admin/reload", headers={"Authorization": "Bearer x"}).status_code == 404


def test_served_texts_are_logged_for_the_drift_checks(served_workspace, make_app):
    from datetime import UTC, datetime

    from sentiment_lib.serving.served_log import read_served

    started = datetime.now(UTC)
    client = make_app(served_workspace).test_client()
    single = client.post("/predict", json={"review": "logged once 🙂"}, headers={"X-Request-ID": "ask-1"}).get_json()
    assert client.post("/explain", json={"review": "logged never"}).status_code == 200  # not traffic
    batch = client.post("/batch_predict", json={"reviews": ["logged twice", "logged thrice"]}).get_json()
    records = [
        r for r in read_served(served_workspace / "logs" / "served", since=started) if r["text"].startswith("logged")
    ]
    assert [r["text"] for r in records] == ["logged once 🙂", "logged twice", "logged thrice"]
    assert records[0]["sentiment"] == single["sentiment"] and records[0]["confidence"] == single["confidence"]
    assert [r["sentiment"] for r in records[1:]] == [p["sentiment"] for p in batch["predictions"]]
    assert {r["model_version"] for r in records} == {"1"}
    # a label can name its text: the caller's request id, numbered within a batch (a generated one otherwise)
    assert records[0]["request_id"] == "ask-1"
    assert records[1]["request_id"].endswith("#0") and records[2]["request_id"] == records[1]["request_id"][:-1] + "1"


def test_csv_safe_neutralises_formula_cells_in_the_csv_answer(served_workspace, make_app):
    client = make_app(served_workspace).test_client()
    upload = b'Review,note\n"=HYPERLINK(""http://x"",""hi"")",+1\nplain text,@me\n'
    headers = {"Content-Type": "text/csv"}
    unsafe = client.post("/batch_predict", data=upload, headers=headers).data.decode()
    assert '"=HYPERLINK' in unsafe  # off by default: the data is returned as it came
    safe = client.post("/batch_predict?csv_safe=true", data=upload, headers=headers).data.decode().splitlines()
    assert safe[1].startswith("\"'=HYPERLINK") and ",'+1," in safe[1] and ",'@me," in safe[2]
    refused = client.post("/batch_predict?csv_safe=maybe", data=upload, headers=headers)
    assert refused.status_code == 400 and "true or false" in refused.get_json()["error"]


def test_runner_explain_prints_each_word_with_its_weight(served_workspace):
    done = run_runner("explain", "The crew was not kind", workspace=served_workspace)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].endswith("@champion: The crew was not kind") and re.match(
        r"(positive|negative) \(0\.\d{3}\)", lines[1]
    )
    assert [line.split()[0] for line in lines[2:]] == ["The", "crew", "was", "not", "kind"]
    assert all(re.fullmatch(r"\S+\s+[+-]\d\.\d{3} [+-]*", line.strip()) for line in lines[2:])
    empty = run_runner("explain", "  ", workspace=served_workspace)
    assert empty.returncode != 0 and "the text to explain is empty" in empty.stderr
