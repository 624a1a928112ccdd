"""evo-fastslow: evolution (slowest) -> lifetime gradient learning (slow) -> in-episode meta-RL (fast)."""

__version__ = "0.1.0"
