"""Polyak averaging: the agent a lifetime leaves is a moving average of its weights, not the last ones.

Why: an actor-critic's last iterate carries the noise of its last few hundred gradient steps, and the
test freezes whatever that noise left. An exponential moving average of the weights over the end of the
lifetime (Polyak & Juditsky 1992; the EMA form is the one target networks and weight-averaged models
use) keeps what learning acquired and averages that noise out. How far back it should reach is a trade-off
(too far keeps weights learning has since improved on), so it is a gene: `weight_averaging`, the
average's time constant as a fraction of the lifetime's optimizer steps; 0 keeps the last weights.

The average starts at the weights after the first step (no bias towards the initial weights) and moves
by `a += rate * (w - a)` after every optimizer step, in separate elementwise float32 operations (each one
correctly rounded IEEE operation, numerics/ops.py): the same bits on every CPU, in both engines.
"""

from __future__ import annotations

import torch


class WeightAverage:
    """The moving average of `params`, `rate` = 1 / (its time constant in optimizer steps)."""

    def __init__(self, params: list[torch.nn.Parameter], rate: float):
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"an averaging rate in (0, 1], got {rate!r}")
        self.params, self.rate = list(params), rate
        self.weights = [p.detach() for p in self.params]  # views: they follow the optimizer's steps
        self.averages: list[torch.Tensor] | None = None

    @classmethod
    def for_lifetime(cls, params: list[torch.nn.Parameter], fraction: float, steps: int) -> "WeightAverage | None":
        """The average a genome's `weight_averaging` (`fraction`) asks for over `steps` optimizer steps;
        None for 0 (the last weights)."""
        if fraction <= 0.0:
            return None
        return cls(params, min(1.0, 1.0 / (fraction * max(1, steps))))

    def update(self) -> None:
        """After an optimizer step: move the average towards the weights."""
        with torch.no_grad():
            if self.averages is None:
                self.averages = [w.clone() for w in self.weights]
                return
            differences = torch._foreach_sub(self.weights, self.averages)
            torch._foreach_mul_(differences, self.rate)
            torch._foreach_add_(self.averages, differences)

    def load(self) -> None:
        """Put the average into the parameters (the weights the lifetime is tested and saved with)."""
        if self.averages is None:
            return
        with torch.no_grad():
            for parameter, average in zip(self.params, self.averages):
                parameter.copy_(average)
