"""evo-fastslow: evolution (slowest) -> lifetime gradient learning (slow) -> in-episode meta-RL (fast)."""

from evo_fastslow.gym_registry import register_envs

__version__ = "0.1.0"

register_envs()
