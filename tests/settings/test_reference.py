"""The configuration reference in docs/ is the one the settings models generate, and it names every variable."""

from __future__ import annotations

from sentiment_lib.settings import reference
from tests.helpers import REPO

PAGE = REPO / "docs" / "configuration.md"


def test_the_docs_hold_the_generated_reference():
    text = PAGE.read_text(encoding="utf-8")
    assert reference.reference() in text, "run: python -m sentiment_lib.settings.reference docs/configuration.md"


def test_every_variable_has_a_row_with_help():
    settings_part = reference.reference().split("### Set for the tools")[0]
    rows = [line for line in settings_part.splitlines() if line.startswith("| `")]
    assert len(rows) == len(reference.variables()) == len(set(reference.variables()))
    assert all(not row.endswith("|  |") for row in rows), "every setting needs a description"
    for name in ("SENTIMENT_BATCH_SIZE", "SENTIMENT_SERVE_THREADS", "ALERT_SMTP_PASSWORD", "MLFLOW_TRACKING_URI"):
        assert any(row.startswith(f"| `{name}`") for row in rows), name


def test_rewrite_replaces_only_the_generated_part(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"# Intro\n\n{reference.BEGIN}\nold table\n{reference.END}\n\nOutro\n", encoding="utf-8")
    assert reference.rewrite(page)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Intro\n\n") and text.endswith("\n\nOutro\n") and "old table" not in text
    assert not reference.rewrite(page)  # already current
