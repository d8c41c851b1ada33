"""The status page over HTTP: the right numbers, reports served read-only, nothing outside reports/ reachable,
and closed off loopback unless a token or --public-status opens it."""

from __future__ import annotations

import http.client
import secrets
import urllib.parse

import pytest

from sentiment_lib.io import write_json_atomic
from sentiment_lib.serving import status_page
from tests.status_workspace import CYCLES, EXPLANATION

pytestmark = pytest.mark.slow
TOKEN = secrets.token_urlsafe(16)


def raw_get(server, path: str) -> tuple[int, bytes, str]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``): status, body, Location."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Location", "")


def test_page_shows_champion_verdict_history_and_cycles(status_server):
    status, body, headers = status_server.request("GET", "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<strong id='champion-version'>1</strong>" in page
    assert "90.01%" in page and "89.13%" in page and "91.21%" in page and "0.014" in page  # the version's tags
    assert "<td>kitchen (held-out split)</td><td class='accuracy'>93.77%</td><td>-</td><td>1.2%</td>" in page
    assert "<span id='verdict-status' class='stale'>stale</span>" in page
    assert f"reports/{CYCLES[-1]}/04_staleness.html" in page
    assert "AUC 0.93" in page  # the newest verdict's check, not an older one's (0.92)
    assert page.count("class='series'") == 3 and page.count("class='event'") == 2  # three lines, two markers
    assert page.count('<tr class="cycle">') == 3
    assert "stale: mailed ops@example.org" in page and "retrained: version 2 rejected by the gate" in page
    assert 'http-equiv="refresh"' in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    status, same_page, _ = status_server.request("GET", "/status")
    assert status == 200 and b"<strong id='champion-version'>1</strong>" in same_page


def test_page_explains_the_newest_verdicts_drift(status_server):
    page = status_server.request("GET", "/")[1].decode()
    explanation = page[page.index("<div id='drift-explanation'>") : page.index('<section id="history">')]
    assert "300 recent vs 300 training texts" in explanation
    number = "<td class='number'>{}</td>".format
    assert f"<td><code>@united</code></td>{number('+1.88')}{number('21.0%')}{number('0.0%')}" in explanation
    assert f"<td><code>film</code></td>{number('-0.68')}{number('0.0%')}{number('4.7%')}" in explanation
    assert "&lt;b&gt;bold&lt;/b&gt;" in explanation and "<b>bold" not in explanation
    assert "Predicted positive: 16.7% of recent vs 50.0% of training texts (-33.3 points, p = 2.9e-18)" in explanation
    assert f"share of texts with an @mention</td>{number('0.0%')}{number('99.0%')}{number('+99.0 points')}" in page
    assert f"mean length in words</td>{number('8.9')}{number('17.1')}{number('+8.2')}" in page


def test_a_verdict_without_or_with_a_damaged_explanation_still_renders(tmp_path):
    verdict = {"status": "healthy", "model_version": "1", "reasons": [], "checks": []}
    write_json_atomic(tmp_path / "c1" / "verdict.json", verdict)  # written before explanations existed
    assert "drift-explanation" not in status_page.verdict_section(tmp_path)
    damaged = {
        **EXPLANATION,
        "typical_of_recent": [{"ngram": "@united", "weight": None}, "not a dict"],
        "label_shift": {"p_value": "small"},
        "descriptors": None,
    }
    write_json_atomic(tmp_path / "c2" / "verdict.json", {**verdict, "drift_explanation": damaged})
    section = status_page.verdict_section(tmp_path)
    assert "<td><code>@united</code></td><td class='number'>-</td>" in section and "p = -" in section


def test_the_verdict_says_what_drift_is_measured_against_and_who_acknowledged_it(tmp_path):
    verdict = {"status": "healthy", "model_version": "2", "reasons": [], "checks": []}
    write_json_atomic(tmp_path / "c1" / "verdict.json", verdict)
    assert "Drift is measured against the training data." in status_page.verdict_section(tmp_path)
    ack = {"by": "ops", "at": "2026-01-09T08:00:00+00:00", "drift_auc": 0.9712, "reason": "<new> airline traffic"}
    verdict = {**verdict, "drift_reference": "the served texts of version 2 (rebaseline)", "acknowledged": ack}
    write_json_atomic(tmp_path / "c2" / "verdict.json", verdict)
    section = status_page.verdict_section(tmp_path)
    assert "Drift is measured against the served texts of version 2 (rebaseline)." in section
    assert "acknowledged by ops at 2026-01-09T08:00:00+00:00 (AUC 0.971): &lt;new&gt; airline traffic." in section


def test_the_newest_labelling_queue_is_shown_escaped_with_its_reasons(tmp_path):
    from sentiment_lib.workspace import Workspace

    ws = Workspace(tmp_path)
    assert "label-queue" not in status_page.render(ws, None)  # no cycle wrote a queue yet
    ws.to_label.mkdir(parents=True)
    (ws.to_label / "20261201-000000.csv").write_text("request_id,Review,why\nold,an older queue,random\n")
    (ws.to_label / "20261202-000000.csv").write_text(
        "request_id,Review,why,champion_sentiment,champion_confidence\n"
        "a,<b>late</b> again,uncertain,negative,0.51\nb,wifi down,drift: wifi,negative,0.7\n"
        "c,so so,uncertain,positive,0.55\n"
    )
    page = status_page.render(ws, None)
    queue = page[page.index('<section id="label-queue">') : page.index('<section id="verdict">')]
    assert "data/to_label/20261202-000000.csv" in queue and "<strong id='queue-texts'>3</strong>" in queue
    assert "(1 drift, 2 uncertain)" in queue and "an older queue" not in queue
    assert "<td>&lt;b&gt;late&lt;/b&gt; again</td><td>uncertain</td><td>negative (0.51)</td>" in queue
    (ws.to_label / "20261203-000000.csv").write_text("Review\nno ids\n")
    assert "The newest queue cannot be read" in status_page.render(ws, None)


def test_reports_are_served_read_only(status_server):
    status, body, _ = status_server.request("GET", f"/reports/{CYCLES[0]}/04_staleness.html")
    assert status == 200 and b"Staleness check of cycle" in body
    assert status_server.request("GET", "/reports/index.html")[0] == 200
    assert status_server.request("PUT", "/reports/index.html", b"x")[0] == 405
    assert status_server.request("DELETE", f"/reports/{CYCLES[0]}/verdict.json")[0] == 405


@pytest.mark.parametrize(
    "path",
    [
        "/reports/../mlflow.db",
        "/reports/%2e%2e/mlflow.db",
        "/reports/..%2fmlflow.db",
        "/reports/%2e%2e%2fmlflow.db",
        "/reports/....//mlflow.db",
        "/reports//etc/passwd",
        "/reports/%2fetc%2fpasswd",
        f"/reports/{CYCLES[0]}/../../mlflow.db",
        "/reports/..%5cmlflow.db",
    ],
)
def test_nothing_outside_reports_is_reachable(status_server, path):
    status, body, location = raw_get(status_server, path)
    while status == 308:  # werkzeug merges doubled slashes by redirecting: follow it, it must stay in reports/
        target = urllib.parse.urlsplit(location)
        assert target.netloc in ("", f"127.0.0.1:{status_server.port}"), location
        assert target.path.startswith("/reports/"), location
        status, body, location = raw_get(status_server, target.path)
    assert status in (400, 404), (path, status)
    assert b"SQLite" not in body and b"root:" not in body


def test_status_is_closed_off_loopback_unless_opened(status_workspace, make_app):
    def client(remote_addr="192.0.2.8", **config):  # a client on another host, unless told otherwise
        test_client = make_app(status_workspace, **config).test_client()
        test_client.environ_base["REMOTE_ADDR"] = remote_addr
        return test_client

    closed = client()
    assert closed.get("/").status_code == 403 and "--public-status" in closed.get("/").get_json()["error"]
    assert closed.get("/reports/index.html").status_code == 403
    assert closed.get("/health").status_code == 200  # the API itself stays open
    tokened = client(admin_token=TOKEN)
    assert tokened.get("/").status_code == 401
    assert tokened.get("/", query_string={"token": "wrong"}).status_code == 401
    assert tokened.get("/", query_string={"token": TOKEN}).status_code == 200
    assert tokened.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # opened with ?token=, the page's links open too (the token is kept in a cookie)
    browser = client(admin_token=TOKEN)
    assert browser.get("/reports/index.html").status_code == 401
    assert browser.get("/", query_string={"token": TOKEN}).status_code == 200
    assert browser.get("/reports/index.html").status_code == 200
    assert client(public_status=True).get("/").status_code == 200
    assert client(remote_addr="::1").get("/").status_code == 200
