"""The promotion gate: a challenger replaces the champion only when it is really better.

Both models answer the same gate set. Promotion needs the challenger's accuracy to beat the champion's
by ``margin`` with a one-sided exact McNemar test below ``alpha`` (only the texts where the two disagree
carry evidence), or the champion to be below an absolute ``floor`` that the challenger clears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    champion_accuracy: float
    challenger_accuracy: float
    p_value: float
    n: int

    def tags(self) -> dict[str, str]:
        """The decision as model-version tags."""
        return {
            "gate.promote": str(self.promote).lower(),
            "gate.reason": self.reason,
            "gate.champion_accuracy": f"{self.champion_accuracy:.4f}",
            "gate.challenger_accuracy": f"{self.challenger_accuracy:.4f}",
            "gate.p_value": f"{self.p_value:.4g}",
            "gate.n": str(self.n),
        }


def mcnemar_p_value(champion_correct: np.ndarray, challenger_correct: np.ndarray) -> float:
    """One-sided exact McNemar p-value for "the challenger is right more often than the champion"."""
    challenger_only = int(np.sum(challenger_correct & ~champion_correct))
    champion_only = int(np.sum(champion_correct & ~challenger_correct))
    discordant = challenger_only + champion_only
    if discordant == 0:
        return 1.0
    return float(binomtest(challenger_only, discordant, 0.5, alternative="greater").pvalue)


def decide_promotion(
    champion_correct: np.ndarray,
    challenger_correct: np.ndarray,
    margin: float = 0.005,
    alpha: float = 0.05,
    floor: float = 0.80,
) -> GateDecision:
    """Compare two models' per-text correctness on the same gate set (boolean arrays, same order)."""
    champion_correct = np.asarray(champion_correct, dtype=bool)
    challenger_correct = np.asarray(challenger_correct, dtype=bool)
    if champion_correct.shape != challenger_correct.shape or champion_correct.size == 0:
        raise ValueError("the gate needs both models' answers on the same, non-empty gate set")
    old, new = float(champion_correct.mean()), float(challenger_correct.mean())
    p = mcnemar_p_value(champion_correct, challenger_correct)
    numbers = dict(champion_accuracy=old, challenger_accuracy=new, p_value=p, n=int(champion_correct.size))
    if new - old >= margin and p < alpha:
        reason = f"challenger better by {new - old:+.4f} (margin {margin}), McNemar p = {p:.3g} < {alpha}"
        return GateDecision(True, reason, **numbers)
    if old < floor <= new:
        return GateDecision(
            True, f"champion {old:.4f} below the floor {floor}, challenger {new:.4f} above it", **numbers
        )
    reason = f"challenger {new:.4f} vs champion {old:.4f}: not better by {margin} with p < {alpha} (p = {p:.3g})"
    return GateDecision(False, reason, **numbers)
