"""Shared by the learner's tests: small suites for mechanics, and the A2C loss written out from its
definitions as an independent float64 reference."""

import numpy as np

from evo_fastslow.genome import load_genome
from evo_fastslow.suite import FitnessSuite, load_suite


def small_suite(name: str = "bandit-independent", steps: int = 64_000, episodes: int = 200) -> FitnessSuite:
    """A shipped suite with a small budget: fast enough for tests of mechanics, not of learning."""
    suite = load_suite(f"fitness/{name}.yaml")
    return suite.model_copy(update={"lifetime": suite.lifetime.model_copy(update={"train_env_steps": steps}),
                                    "test": suite.test.model_copy(update={"episodes": episodes})})


REFERENCE = load_genome("populations/reference.json:wang2016-lstm")
KNOBS = dict(entropy_schedule="linear", entropy_floor=0.1, lr_schedule="linear", lr_floor=0.2, gae_lambda=0.8,
             normalize_advantages=True)


def reference_loss(heads: np.ndarray, actions: np.ndarray, rewards: np.ndarray, discount: float, value_cost: float,
                   entropy_cost: float, lam: float, normalize: bool, bootstrap: np.ndarray | None = None
                   ) -> tuple[float, float, float, float]:
    """The A2C loss written out in float64 loops from the definitions (Schulman et al. 2016 for GAE);
    `bootstrap` [B]: the value past the last step (updates within an episode), else 0."""
    T, B, _ = heads.shape
    logits, values = heads[..., :-1].astype(np.float64), heads[..., -1].astype(np.float64)
    log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    returns, advantages = np.zeros((T, B)), np.zeros((T, B))
    for b in range(B):
        last = 0.0 if bootstrap is None else float(bootstrap[b])
        g, a = last, 0.0
        for t in reversed(range(T)):
            g = rewards[t, b] + discount * g
            next_value = values[t + 1, b] if t + 1 < T else last
            a = rewards[t, b] + discount * next_value - values[t, b] + discount * lam * a
            returns[t, b], advantages[t, b] = (g, g - values[t, b]) if lam == 1.0 else (a + values[t, b], a)
    if normalize:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    taken = np.take_along_axis(log_p, actions[..., None], -1)[..., 0]
    policy = -(taken * advantages).mean()
    value = 0.5 * ((returns - values) ** 2).mean()
    entropy = -(np.exp(log_p) * log_p).sum(-1).mean()
    return policy + value_cost * value - entropy_cost * entropy, policy, value, entropy


def without_time(result) -> dict:
    """A lifetime's result without what differs between equal runs (wall time, which engine ran it)."""
    data = result.to_dict()
    data.pop("wall_seconds"), data.pop("engine")
    return data
