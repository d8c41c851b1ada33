"""The log files an unattended process writes rotate instead of growing forever."""

from __future__ import annotations

import logging

from sentiment_lib import logs


def test_a_log_file_rotates_past_its_size_and_keeps_a_few(tmp_path):
    path = tmp_path / "logs" / "runner.log"
    handler = logs.rotating_file(path, max_bytes=2000, backups=2)
    logger = logging.getLogger("rotation-test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(200):
            logger.warning("line %03d %s", i, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["runner.log", "runner.log.1", "runner.log.2"]
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())
    assert "line 199" in path.read_text()  # the newest lines are in the live file
