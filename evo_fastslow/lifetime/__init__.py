"""Slow loop: a lifetime of gradient learning (A2C) over a task distribution, then a frozen-weight test."""

from evo_fastslow.lifetime.result import LifetimeResult
from evo_fastslow.lifetime.run import expected_cost, load_weights, run_lifetime

__all__ = ["LifetimeResult", "run_lifetime", "load_weights", "expected_cost"]
