"""Updates within an episode: truncated backpropagation through time every `truncation` steps.

Why: a lifetime that updates once per batch of whole episodes makes one gradient step per B x T
env-steps; A3C (Mnih et al. 2016) and Wang et al.'s agents update every n steps, carrying the core's
state across the cut and bootstrapping the returns from the value one step past it. Here a batch of B
episodes is played in stretches of n steps: each stretch is acted with the weights as they are after
the previous stretch's update, its loss bootstraps from V(s_{t+n}) (a constant, computed with the same
weights), its gradient stops at the stretch's start, and the optimizer steps after it.

Both engines run it: the fused kernel takes a stretch and a carry (lifetime/fused.py), the Python
path acts the stretch in NumPy and replays it from the carried state (agents: `replay_from`). They draw
the same random numbers (one action-noise draw per batch, as whole episodes do) and, in the
reproducible numerics mode, compute the same bits. An intrinsic bonus (lifetime/intrinsic.py) at step t
reads the episode's actions and rewards up to t only, so each stretch's loss gets it from the episode so
far. Not for agents with episodic memory, whose reads are defined over whole episodes.
"""

from __future__ import annotations

import numpy as np
import torch

from evo_fastslow.agents import Agent
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime import fused, intrinsic
from evo_fastslow.lifetime.a2c import LossParts, Rollout, discount_matrix, gumbel_noise, loss_of
from evo_fastslow.lifetime.schedule import UpdateSettings
from evo_fastslow.numerics import ops
from evo_fastslow.tasks import Episodes, Task


def check(genome: Genome) -> None:
    """ValueError unless the genome can update within an episode."""
    if genome["truncation"] and genome["episodic_memory"] != "off":
        raise ValueError("truncation > 0 (updates within an episode) needs episodic_memory off: its reads are "
                         "defined over whole episodes")


def stretches(steps: int, truncation: int) -> list[tuple[int, int]]:
    """[start, stop) of each stretch of an episode of `steps` steps."""
    return [(start, min(steps, start + truncation)) for start in range(0, steps, truncation)]


def train_batch(agent: Agent, task: Task, episodes: Episodes, genome: Genome, batch: int, rng: np.random.Generator,
                optimizer: ops.Optimizer, settings: UpdateSettings, use_kernel: bool
                ) -> tuple[Rollout, LossParts, float]:
    """Play B episodes, updating every `truncation` steps: the whole rollout, the stretches' mean loss parts
    and gradient norm. Stops at the first non-finite loss (its total is then the returned one)."""
    steps, n_actions = task.steps, task.n_actions
    actions, rewards = np.empty((steps, batch), np.int64), np.empty((steps, batch), np.float32)
    play = (_KernelStretches(agent, episodes, genome, batch, rng, settings) if use_kernel else
            _PythonStretches(agent, task, episodes, batch, rng, settings, genome))
    parts, norms = [], []
    for start, stop in stretches(steps, genome["truncation"]):
        rollout, loss = play.stretch(start, stop)
        actions[start:stop], rewards[start:stop] = rollout.actions, rollout.rewards
        if not torch.isfinite(loss.total).item():
            return Rollout(None, actions, rewards), loss, float("nan")
        norms.append(optimizer.step())
        parts.append((loss.total.item(), loss.policy, loss.value, loss.entropy))
    total, policy, value, entropy = np.mean(parts, axis=0).tolist()
    return Rollout(None, actions, rewards), LossParts(torch.tensor(total), policy, value, entropy), float(np.mean(norms))


class _KernelStretches:
    def __init__(self, agent: Agent, episodes: Episodes, genome: Genome, batch: int, rng: np.random.Generator,
                 settings: UpdateSettings):
        self.agent, self.genome, self.batch, self.settings = agent, genome, batch, settings
        self.tables = episodes.tables()
        self.noise = fused.noise_for(self.tables, batch, rng)
        self.carry = fused.Carry.start(batch, agent.core.hidden_size, self.tables[1].shape[3])

    def stretch(self, start: int, stop: int) -> tuple[Rollout, LossParts]:
        return fused.update_steps(self.agent, self.tables, self.genome, self.batch, self.noise, self.settings,
                                  start, stop - start, self.carry)


class _PythonStretches:
    """Acts a stretch in NumPy (a2c.act's step, with the weights as they are now), then replays it from the
    carried state with gradients; the next stretch starts from the replay's last state."""

    def __init__(self, agent: Agent, task: Task, episodes: Episodes, batch: int, rng: np.random.Generator,
                 settings: UpdateSettings, genome: Genome | None = None):
        self.agent, self.episodes, self.settings, self.rows = agent, episodes, settings, np.arange(batch)
        self.bonus = (genome["intrinsic"], genome["intrinsic_weight"]) if genome is not None else ("none", 0.0)
        self.n_actions = task.n_actions
        if self.bonus[0] != "none":  # the episode so far: what the bonus reads
            self.actions = np.zeros((task.steps, batch), np.int64)
            self.rewards = np.zeros((task.steps, batch), np.float32)
        self.noise = gumbel_noise(rng, task.steps, batch, task.n_actions)
        self.inputs = np.zeros((task.steps, batch, agent.input_size), np.float32)
        agent.actor().write_inputs(self.inputs[0], episodes.first_obs, None, None, self.rows)
        self.state = agent.initial_state(batch)

    def stretch(self, start: int, stop: int) -> tuple[Rollout, LossParts]:
        steps, batch = len(self.inputs), len(self.rows)
        actions, rewards = np.empty((stop - start, batch), np.int64), np.empty((stop - start, batch), np.float32)
        actor, state = self.agent.actor(), tuple(s.numpy() for s in self.state)
        for t in range(start, stop):
            logits, state, _ = actor.step(self.inputs[t], state)
            logits += self.noise[t]
            action = logits.argmax(axis=1)
            reward, obs = self.episodes.step(t, action)
            actions[t - start], rewards[t - start] = action, reward
            if t + 1 < steps:
                actor.write_inputs(self.inputs[t + 1], obs, action, reward, self.rows)
        rollout = Rollout(self.inputs[start:stop], actions, rewards)
        trained_on = rollout
        if self.bonus[0] != "none":  # the loss's rewards only; the rollout keeps the task's
            self.actions[start:stop], self.rewards[start:stop] = actions, rewards
            extra = intrinsic.bonus(*self.bonus, self.actions[:stop], self.rewards[:stop], self.n_actions)
            trained_on = Rollout(rollout.inputs, actions, rewards + extra[start:stop])
        logits, values, end = self.agent.replay_from(torch.from_numpy(rollout.inputs), self.state)
        bootstrap = None
        if stop < steps:
            with torch.no_grad():
                bootstrap = self.agent.replay_from(torch.from_numpy(self.inputs[stop:stop + 1]), end)[1][0]
        loss = loss_of(logits, values, trained_on, discount_matrix(stop - start, self.settings.discount),
                       self.settings, bootstrap)
        self.agent.zero_grad(set_to_none=True)
        loss.total.backward()
        self.state = tuple(s.detach() for s in end)
        return rollout, loss
