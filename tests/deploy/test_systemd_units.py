"""deploy/systemd: each unit passes ``systemd-analyze verify`` (Debian's systemd package), is hardened with the
workspace as its only writable path, and names only commands, options and variables the project has."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import (
    INSTALLED_SENTIMENT,
    WORKSPACE,
    option_value,
    unknown_env_names,
    unknown_options,
)
from tests.helpers import REPO

SYSTEMD = REPO / "deploy" / "systemd"
UNITS = ["sentiment-api.service", "sentiment-loop.service", "sentiment-tracking.service"]
ENV_EXAMPLE = SYSTEMD / "sentiment.env.example"
ENV_FILE = "/etc/sentiment/sentiment.env"
SECRET_WORDS = ("PASSWORD", "TOKEN", "API_KEY", "WEBHOOK_URL")


def read_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """``{section: [(key, value), ...]}``, repeated keys kept in order (``Environment=`` is one per line)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None and "=" in line, f"not a unit line: {line!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict, section: str, key: str) -> list[str]:
    return [value for k, value in unit.get(section, []) if k == key]


def one(unit: dict, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= set {len(found)} times: {found}"
    return found[0]


def environment(unit: dict) -> dict[str, str]:
    pairs = [pair for line in values(unit, "Service", "Environment") for pair in shlex.split(line)]
    return dict(pair.split("=", 1) for pair in pairs)


def exec_args(unit: dict) -> list[str]:
    return shlex.split(one(unit, "Service", "ExecStart"))


def seconds(text: str) -> float:
    """A systemd time span such as ``10min``, ``60s`` or ``90`` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text))


@pytest.fixture(params=UNITS)
def unit_name(request) -> str:
    return request.param


@pytest.fixture
def unit(unit_name) -> dict:
    return read_unit((SYSTEMD / unit_name).read_text())


def test_systemd_analyze_verify_accepts_the_unit(unit_name, tmp_path: Path):
    """The unit as installed, except that ExecStart is this checkout's console script (verify checks that the
    binary exists and is executable) and EnvironmentFile a copy of the example. User=sentiment stays: systemd
    252's verify does not look users up (they are resolved when the service starts), and says nothing of it."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not on PATH (Debian: apt-get install systemd)")
    env_copy = tmp_path / "sentiment.env"
    shutil.copy(ENV_EXAMPLE, env_copy)
    for name in UNITS:  # all of them, so the Wants=/After= between them resolve
        text = (SYSTEMD / name).read_text()
        assert text.count(INSTALLED_SENTIMENT) == 1 and text.count(ENV_FILE) == 1, name
        text = text.replace(INSTALLED_SENTIMENT, str(REPO / ".venv" / "bin" / "sentiment"))
        (tmp_path / name).write_text(text.replace(ENV_FILE, str(env_copy)))
    done = subprocess.run([tool, "verify", str(tmp_path / unit_name)], capture_output=True, text=True, timeout=120)
    about_units = [line for line in done.stderr.splitlines() if any(name in line for name in UNITS)]
    assert done.returncode == 0, done.stderr
    # unknown keys and unparsable values are only warnings (exit 0): each names the unit file
    assert about_units == [], done.stderr


def test_unit_is_hardened_with_the_workspace_its_only_writable_path(unit):
    assert one(unit, "Service", "User") not in ("", "root", "0")
    assert one(unit, "Service", "Group") not in ("", "root", "0")
    assert one(unit, "Service", "Restart") == "on-failure"
    # SIGTERM to the main process alone: a loop's notebook kernel must not be killed before its step ends
    assert one(unit, "Service", "KillMode") == "mixed"
    assert seconds(one(unit, "Service", "RestartSec")) > 0
    assert one(unit, "Service", "EnvironmentFile") == ENV_FILE
    assert one(unit, "Service", "WorkingDirectory") == WORKSPACE
    assert one(unit, "Service", "ReadWritePaths") == WORKSPACE
    assert environment(unit)["SENTIMENT_WORKSPACE"] == WORKSPACE
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "ProtectKernelTunables", "ProtectControlGroups"):
        assert one(unit, "Service", key) == "yes", key
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    # torch and onnxruntime may need W+X memory for their JIT
    assert values(unit, "Service", "MemoryDenyWriteExecute") in ([], ["no"])
    # the caches (wandb, matplotlib, HF) must land in the workspace: HOME and friends point there
    cache_dirs = {name: path for name, path in environment(unit).items() if name in ("HOME", "XDG_CACHE_HOME")}
    assert cache_dirs.get("HOME") == WORKSPACE
    assert all(path.startswith(WORKSPACE) for path in cache_dirs.values()), cache_dirs


def test_unit_runs_the_installed_command_with_options_it_accepts(unit):
    args = exec_args(unit)
    assert args[0] == INSTALLED_SENTIMENT
    assert unknown_options(args[1:]) == [], args


def test_unit_sets_only_variables_the_project_reads(unit):
    assert unknown_env_names(set(environment(unit))) == []


def test_api_listens_on_loopback_behind_nginx_with_json_logs():
    unit = read_unit((SYSTEMD / "sentiment-api.service").read_text())
    args = exec_args(unit)
    assert args[1] == "serve"
    assert (option_value(args, "--host"), option_value(args, "--port")) == ("127.0.0.1", "5000")
    assert option_value(args, "--log-format") == "json"
    assert environment(unit)["SENTIMENT_SERVE_TRUSTED_PROXIES"] == "127.0.0.1"


def test_api_and_loop_order_after_tracking_without_requiring_it():
    for name in ("sentiment-api.service", "sentiment-loop.service"):
        unit = read_unit((SYSTEMD / name).read_text())
        assert "sentiment-tracking.service" in " ".join(values(unit, "Unit", "After")), name
        for key in ("Requires", "Requisite", "BindsTo"):
            assert "sentiment-tracking" not in " ".join(values(unit, "Unit", key)), (name, key)


def test_loop_has_time_to_finish_its_step_on_sigterm():
    unit = read_unit((SYSTEMD / "sentiment-loop.service").read_text())
    assert exec_args(unit)[1] == "loop"
    assert seconds(one(unit, "Service", "TimeoutStopSec")) >= 600


def test_tracking_server_keeps_its_folder_in_the_workspace():
    args = exec_args(read_unit((SYSTEMD / "sentiment-tracking.service").read_text()))
    assert args[1] == "tracking-server"
    assert option_value(args, "--folder").startswith(WORKSPACE + "/")
    assert option_value(args, "--host") == "127.0.0.1"


def env_example_lines() -> list[tuple[bool, str, str]]:
    """``(active, name, value)`` of each ``NAME=value`` line of the example, commented-out ones included."""
    found = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found.append((not match.group(1), match.group(2), match.group(3)))
    return found


def test_env_example_names_only_variables_the_project_reads():
    names = {name for _, name, _ in env_example_lines()}
    assert {"ALERT_SMTP_PASSWORD", "ALERT_EMAIL_TO", "ALERT_WEBHOOK_URL", "ADMIN_TOKEN", "METRICS_TOKEN"} <= names
    assert unknown_env_names(names) == []


def test_env_example_holds_no_secret_values():
    """Secrets appear only as commented-out placeholders."""
    for active, name, value in env_example_lines():
        if name.endswith(SECRET_WORDS):
            assert not active, f"{name} is set in the example"
            assert value == "change-me" or "example" in value or "XXXX" in value, f"{name}={value}"
