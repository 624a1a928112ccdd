"""Gymnasium ids of the shipped tasks, registered when `evo_fastslow` is imported.

So `gymnasium.make("evo_fastslow/Bandit-v0")` works after `import evo_fastslow`, and
`gymnasium.make("evo_fastslow:evo_fastslow/Bandit-v0")` in a fresh interpreter (Gymnasium imports the
module before the colon). Entry points are strings: nothing heavy is imported until an env is made.
"""

from __future__ import annotations

# task kind -> (Gymnasium id, entry point)
GYM_ENVS: dict[str, tuple[str, str]] = {
    "bandit": ("evo_fastslow/Bandit-v0", "evo_fastslow.tasks.bandit:BanditEnv"),
    "two-step": ("evo_fastslow/TwoStep-v0", "evo_fastslow.tasks.two_step:TwoStepEnv"),
    "harlow": ("evo_fastslow/Harlow-v0", "evo_fastslow.tasks.harlow:HarlowEnv"),
    "recurring-contextual-bandits": ("evo_fastslow/RecurringBandits-v0",
                                     "evo_fastslow.tasks.recurring:RecurringBanditEnv"),
    "jackpot-bandit": ("evo_fastslow/JackpotBandit-v0", "evo_fastslow.tasks.jackpot:JackpotBanditEnv"),
    "gridworld": ("evo_fastslow/Gridworld-v0", "evo_fastslow.tasks.gridworld:GridworldEnv"),
}
GYM_IDS: dict[str, str] = {kind: env_id for kind, (env_id, _) in GYM_ENVS.items()}


def register_envs() -> None:
    import gymnasium as gym

    for env_id, entry_point in GYM_ENVS.values():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
