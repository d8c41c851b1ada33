"""Pages from templates: the one Jinja environment over ``sentiment_lib/templates`` and a call to render with it.

HTML and SVG templates (``*.html.j2``, ``*.svg.j2``) are escaped automatically, so a review text, a version
name or a reason from a file cannot inject markup; so is any template of an unknown kind. Only the Markdown
model card (``*.md.j2``) is not: it is Markdown, not HTML, and escaping would put ``&lt;`` into the card's
plain text (``/model/card``, ``MODEL_CARD.md``, the registry's description), which Markdown viewers sanitise
themselves. A variable the template names and the caller did not pass fails loudly (``StrictUndefined``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sentiment_lib.formatting import fixed, percent, points

ESCAPED = ("html.j2", "svg.j2")
NOT_ESCAPED = ("md.j2",)


@cache  # made on first use, not at import: importing sentiment_lib has no side effects
def environment() -> Environment:
    """The shared environment: package templates, autoescape by kind, strict about undefined variables."""
    env = Environment(
        loader=PackageLoader("sentiment_lib", "templates"),
        autoescape=select_autoescape(enabled_extensions=ESCAPED, disabled_extensions=NOT_ESCAPED, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,  # a line holding only a block tag leaves no blank line behind
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fixed=fixed, percent=percent, points=points)
    return env


def render(template: str, /, **context: Any) -> str:
    """The template named ``template`` (a path under ``sentiment_lib/templates``) rendered with ``context``.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template uses a variable ``context`` does not hold.
    """
    return environment().get_template(template).render(**context)
