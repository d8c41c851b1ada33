"""Numbers as people read them in reports, emails and the status page; "-" for a missing or non-numeric value.

Light on purpose (no numpy, no pandas): the API's status page formats with it too.
"""

from __future__ import annotations

from typing import Any


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fixed(value: Any, spec: str = ".1f") -> str:
    """``value`` formatted with ``spec`` (for example ``"+.2f"`` or ``".2g"``)."""
    return format(value, spec) if is_number(value) else "-"


def percent(share: Any) -> str:
    """A share of texts (0.123) as ``12.3%``."""
    return f"{100 * share:.1f}%" if is_number(share) else "-"


def points(difference: Any) -> str:
    """A difference of shares (0.021) as ``+2.1 points``."""
    return f"{100 * difference:+.1f} points" if is_number(difference) else "-"
