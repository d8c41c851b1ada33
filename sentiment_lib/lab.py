"""``make lab``: JupyterLab on 127.0.0.1 with the pipeline's notebooks open and its kernel registered.

The server's root is the repository, so a notebook's relative paths (``data/processed``) mean what they mean
to the runner; it opens on ``notebooks/``. The access token is made here, handed to Jupyter in the
environment (not on a command line other users can read), and printed once in the URL to open.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from sentiment_lib.arg_types import port
from sentiment_lib.settings.runtime import tools
from sentiment_lib.workspace import REPO_ROOT

DEFAULT_PORT = 8888


def lab_command(port: int) -> list[str]:
    # Jupyter refuses root unless told; containers and CI machines like these run as root
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the port asked for, or a clear error: never a surprise one
        f"--ServerApp.root_dir={REPO_ROOT}",
        "--ServerApp.default_url=/lab/tree/notebooks",
        *as_root,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=port, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    token = tools().jupyter_token or secrets.token_urlsafe(24)
    print(f"JupyterLab: http://127.0.0.1:{args.port}/lab/tree/notebooks?token={token}  (Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, lab_command(args.port), {**os.environ, "JUPYTER_TOKEN": token})


if __name__ == "__main__":
    main()
