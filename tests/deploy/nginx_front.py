"""A real nginx with the shipped site (deploy/nginx/sentiment.conf) in front of a running app, in a folder of
its own: for tests/deploy/test_nginx.py and benchmarks/bench_api.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sentiment_lib.serving import process

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "sentiment.conf"
RATE_LIMIT_LINES = ("limit_req_zone", "limit_req ", "limit_req_status")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def site_config(app_port: int, listens: list[str], rate_limit: bool = True) -> str:
    """The shipped file with its upstream pointed at ``app_port`` and its `listen` at ``listens``
    (``rate_limit=False``: without the per-address request rate, for a benchmark's clients on one address)."""
    text = CONF.read_text().replace("server 127.0.0.1:5000;", f"server 127.0.0.1:{app_port};")
    assert "    listen 80;\n" in text
    text = text.replace("    listen 80;\n", "".join(f"    listen {where};\n" for where in listens))
    if not rate_limit:
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith(RATE_LIMIT_LINES))
    return text


def main_config(folder: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf provides around conf.d, with every path in ``folder``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would otherwise drop to nobody
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "".join(f"{kind}_temp_path {folder / kind};\n" for kind in kinds)
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        "worker_rlimit_nofile 8192;\nevents { worker_connections 4096; }\n"
        f"http {{\naccess_log {folder / 'access.log'};\n{temp}include {site};\n}}\n"
    )


class Front:
    """nginx with the shipped site, listening on ``listens`` (host:port), in front of the app on ``app_port``."""

    def __init__(self, binary: str, folder: Path, app_port: int, listens: list[str], rate_limit: bool = True):
        folder.mkdir(parents=True, exist_ok=True)
        site = folder / "sentiment.conf"
        site.write_text(site_config(app_port, listens, rate_limit))
        (folder / "nginx.conf").write_text(main_config(folder, site))
        self.folder = folder
        self.process = subprocess.Popen(
            [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        host, port = listens[0].rsplit(":", 1)
        process.wait_until_healthy(self.process, f"http://{host}:{port}", str(folder / "error.log"), 30, "nginx")

    def error_log(self) -> str:
        return (self.folder / "error.log").read_text()

    def stop(self) -> None:
        self.process.terminate()
        process.wait_or_kill(self.process)
