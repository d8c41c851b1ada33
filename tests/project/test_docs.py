"""The README stays the front door and the docs/ site builds: short README, links that resolve, a strict build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MAX_README_LINES = 250

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def links(path: Path) -> list[str]:
    """Every link and image target of a Markdown file, outside code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return [a or b for a, b in LINK.findall(text)]


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith(("#", "/"))


def anchors(path: Path) -> set[str]:
    """The ids MkDocs (Python-Markdown's toc) and GitHub give the headings of ``path``: the same for ours."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slugify(re.sub(r"[`*]", "", title).strip(), "-") for title in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_links_every_docs_page():
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README) if relative(target)}
    for page in PAGES:
        assert page.resolve() in linked, f"README.md does not link {page.relative_to(REPO)}"


@pytest.mark.parametrize("source", [README, *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(source: Path):
    for target in [t for t in links(source) if relative(t)]:
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        assert resolved.is_file(), f"{source.name}: {target} names no file"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{source.name}: {target}: no heading #{anchor}"


def test_configuration_reference_is_one_page():
    # the page a generator writes from the settings models replaces this one: keep it at this path
    assert (DOCS / "configuration.md").is_file()
    assert "configuration.md" in (REPO / "mkdocs.yml").read_text()


def test_the_architecture_layout_names_every_module():
    """docs/architecture.md's layout is how a newcomer finds a module: every one of them is named there."""
    block = (DOCS / "architecture.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("```")[1]
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", block))
    modules = [p for p in (REPO / "sentiment_lib").rglob("*.py") if p.stem not in ("__init__", "__main__")]
    assert [str(p.relative_to(REPO)) for p in modules if p.stem not in named] == []
