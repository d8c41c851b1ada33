"""deploy/prometheus: the rules pass ``promtool check`` and their own unit tests, and a real Prometheus scraping a
real app on loopback fires the stale-model alert once the loop's staleness step has judged the champion stale."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from sentiment_lib.serving import process
from sentiment_lib.tracking import registry, runs
from tests.helpers import NAME, REPO, new_registry, run_runner, wait_until, write_sst2_sample

DEPLOY = REPO / "deploy" / "prometheus"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install prometheus; make install does it as root)")
    return found


def test_the_rules_pass_promtool_check():
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(DEPLOY / "rules.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 13 rules found" in done.stdout
    # each alert has its unit test (the file's own promise)
    alerts = re.findall(r"- alert: (\w+)", (DEPLOY / "rules.yml").read_text())
    tested = set(re.findall(r"alertname: (\w+)", (DEPLOY / "rules_test.yml").read_text()))
    assert len(alerts) == 13 and set(alerts) <= tested, set(alerts) - tested


def test_the_rules_pass_their_unit_tests():
    done = subprocess.run(
        [tool("promtool"), "test", "rules", "rules_test.yml"], cwd=DEPLOY, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_scrape_config_is_valid(tmp_path):
    # the shipped file names the rules where Debian keeps them; check it with that path pointed at ours
    config = (DEPLOY / "prometheus.yml").read_text()
    assert "/etc/prometheus/sentiment-rules.yml" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/sentiment-rules.yml", str(DEPLOY / "rules.yml"))
    )
    done = subprocess.run(
        [tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def prometheus_config(target_port: int) -> str:
    """The shipped scrape config, at test speed: scraped and evaluated every second, pointed at the test's app."""
    config = (DEPLOY / "prometheus.yml").read_text()
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s")
    config = config.replace("evaluation_interval: 15s", "evaluation_interval: 1s")
    config = config.replace('"127.0.0.1:5000"', f'"127.0.0.1:{target_port}"')
    return config.replace("/etc/prometheus/sentiment-rules.yml", str(DEPLOY / "rules.yml"))


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def firing(base: str) -> set[str]:
    alerts = get_json(f"{base}/api/v1/alerts")["data"]["alerts"]
    return {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}


@pytest.fixture
def judged_workspace(tmp_path, small_model):
    """A served champion with the evaluation numbers 04_staleness compares against, and a training split."""
    ws = new_registry(tmp_path / "ws", small_model)
    runs.configure_client(ws)
    registry.tag_version(NAME, "1", {"test_accuracy": 0.9})  # what 03_evaluate would have tagged
    write_sst2_sample(ws, rows=200, test_rows=20)
    done = run_runner("preprocess", "--preset", "smoke", "--cycle", "p1", workspace=ws)
    assert done.returncode == 0, done.stderr[-2000:]
    return ws


@pytest.mark.slow
def test_a_real_prometheus_fires_the_stale_model_alert_after_a_staleness_verdict(
    judged_workspace, tmp_path, live_server
):
    binary = tool("prometheus")
    app = live_server(judged_workspace, {"SENTIMENT_SERVE_REFRESH_SECONDS": "0"})
    port = process.free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "prometheus.yml").write_text(prometheus_config(app.port))
    log = (tmp_path / "prometheus.log").open("w")
    prometheus = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        scraped = wait_until(
            lambda: get_json(f"{base}/api/v1/query?query=sentiment_model_loaded")["data"]["result"],
            60,
            0.5,
            "Prometheus did not scrape the app",
            ignore=(OSError,),  # Prometheus still starting
        )
        assert scraped[0]["value"][1] == "1"
        time.sleep(3)  # a few evaluations of every rule on the healthy app
        assert firing(base) == set()

        done = run_runner(
            "staleness", "--preset", "smoke", "--cycle", "s1", "-p", "now", "2027-03-01T00:00:00+00:00",
            workspace=judged_workspace,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        verdict = json.loads((judged_workspace / "reports" / "s1" / "verdict.json").read_text())
        assert verdict["status"] == "stale"

        alerts = wait_until(lambda: firing(base), 30, 0.5, "No alert fired after the stale verdict", ignore=(OSError,))
        assert alerts == {"SentimentModelStale"}
        (alert,) = [a for a in get_json(f"{base}/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"]
        assert alert["labels"]["instance"] == f"127.0.0.1:{app.port}" and alert["labels"]["severity"] == "warning"
    finally:
        prometheus.terminate()
        process.wait_or_kill(prometheus)
        log.close()
