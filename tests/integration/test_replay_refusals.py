"""A served or simulated-clock replay refuses what it cannot do, in the user's words, before touching data."""

from __future__ import annotations

from sentiment_lib.serving.process import free_port
from tests.helpers import canonical_stream, run_runner


def test_a_served_replay_without_a_champion_or_with_a_bad_clock_says_what_to_do(tmp_path):
    source = str(canonical_stream(tmp_path, 25))
    url = f"http://127.0.0.1:{free_port()}"
    replay = ("replay", "--source", source, "--per-cycle", "10")
    done = run_runner(*replay, "--hours-per-cycle", "24", "--serve", url, workspace=tmp_path)
    assert done.returncode == 2 and "a served replay needs a champion to serve: run `make demo`" in done.stderr
    done = run_runner(*replay, "--hours-per-cycle", "0", workspace=tmp_path)
    assert done.returncode == 2 and "--hours-per-cycle must be > 0, got 0.0" in done.stderr
    done = run_runner(*replay, "--hours-per-cycle", "24", "--start", "soon", workspace=tmp_path)
    assert done.returncode == 2 and "--start must be an ISO 8601 time" in done.stderr
    assert not (tmp_path / "data" / "incoming").exists()  # nothing was dropped
