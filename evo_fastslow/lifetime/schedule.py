"""The learner's settings at each update of a lifetime: where the genome's schedules put the entropy
cost and the learning rate, and the loss's other knobs (GAE lambda, advantage normalisation).

Why a module of its own: both engines (the fused kernel and the Python path) take their per-update
settings from here, so a schedule can never differ between them. The arithmetic is plain IEEE double
(no libm), so a schedule gives the same bits on every CPU."""

from __future__ import annotations

from dataclasses import dataclass

from evo_fastslow.genome import Genome


@dataclass(frozen=True)
class UpdateSettings:
    discount: float
    value_cost: float
    entropy_cost: float
    learning_rate: float
    gae_lambda: float = 1.0
    normalize_advantages: bool = False


def scheduled(start: float, schedule: str, floor: float, update: int, updates: int) -> float:
    """`start` (constant), or annealed linearly from `start` at the first update to `start * floor` at
    the last."""
    if schedule == "constant" or updates <= 1:
        return start
    done = update / (updates - 1)
    return start * (1.0 - done * (1.0 - floor))


def update_settings(genome: Genome, update: int = 0, updates: int = 1) -> UpdateSettings:
    """The loss's and optimizer's settings for update `update` (0-based) of `updates`."""
    return UpdateSettings(
        discount=genome["discount"], value_cost=genome["value_cost"],
        entropy_cost=scheduled(genome["entropy_cost"], genome["entropy_schedule"], genome["entropy_floor"],
                               update, updates),
        learning_rate=scheduled(genome["learning_rate"], genome["lr_schedule"], genome["lr_floor"], update, updates),
        gae_lambda=genome["gae_lambda"], normalize_advantages=genome["normalize_advantages"])
