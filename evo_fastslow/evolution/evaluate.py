"""evaluate(genes, suites, seed, task_seed): the pure function a Dask worker runs for one genome.

Arguments and result are plain data. A lifetime that diverges or times out, or code that raises,
comes back as an outcome with its status and reason: failure is data, never an exception here.
Every outcome carries the digest of the worker's numeric fingerprint (lifetime/fingerprint.py).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from evo_fastslow.lifetime.fingerprint import fingerprint
from evo_fastslow.seeds import derive_seed
from evo_fastslow.suite import WORST_FITNESS, FitnessSuite
from evo_fastslow.weights import Tensors, digest, from_bytes, suite_tensors, to_bytes

CURVE_KEEP = ("learning_curve",)
NON_DETERMINISTIC = ("wall_seconds", "engine")  # which engine ran is in the worker's fingerprint
# A wall-clock limit makes the outcome depend on the machine's speed; the budget that decides
# fitness is env-steps (suite.lifetime.train_env_steps).
MACHINE_DEPENDENT = "machine-dependent: "


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def failure(status: str, reason: str, worker: str = "", wall_seconds: float = 0.0, numerics: str = "",
            started_at: float = 0.0) -> dict[str, Any]:
    if status in ("timeout", "crashed"):  # a wall-clock limit, a lost worker: not a property of the genome
        reason = MACHINE_DEPENDENT + reason
    return {"status": status, "reason": reason, "fitness": WORST_FITNESS, "scores": {}, "metrics": {},
            "curves": {}, "wall_seconds": wall_seconds, "worker": worker, "fingerprint": numerics,
            "started_at": started_at, "finished_at": time.time() if started_at else 0.0}


def evaluate(genes: dict[str, Any], suites: list[FitnessSuite], seed: int, task_seed: int,
             max_seconds: float | None = None, weights: bytes | None = None, weights_hash: str = "",
             keep_weights: bool = False) -> dict[str, Any]:
    """Lifetimes of one genome on every suite; fitness = the mean of the suites' fitnesses.

    `weights` (safetensors bytes, checked against `weights_hash`): the initial weights of every suite's
    agent (evolution/inheritance.py); `keep_weights`: the outcome also carries the end-of-lifetime
    weights, as safetensors bytes under "weights"."""
    from evo_fastslow.lifetime.run import agent_tensors, train_and_test

    worker, wall, numerics, started_at = _worker_name(), 0.0, "", time.time()
    scores, metrics, curves, final = {}, {}, {}, {}
    try:
        numerics = fingerprint()["digest"]
        genome = complete(genes)
        initial = _initial_tensors(weights, weights_hash)
        for suite in suites:
            agent, result = train_and_test(genome, suite, derive_seed(seed, suite.name),
                                           task_seed=derive_seed(task_seed, suite.name), max_seconds=max_seconds,
                                           initial=None if initial is None else suite_tensors(initial, suite.name))
            wall += result.wall_seconds
            if result.status != "ok":
                return failure(result.status, f"{suite.name}: {result.reason}", worker, wall, numerics, started_at)
            scores[suite.name] = suite.fitness(result)
            data = result.to_dict()
            curves[suite.name] = data.pop("learning_curve")
            data.pop("diagnostics")  # a lifetime's own (the `lifetime` command shows them), not the archive's
            metrics[suite.name] = {k: v for k, v in data.items() if k not in NON_DETERMINISTIC}
            if keep_weights:
                final.update({f"{suite.name}/{k}": v for k, v in agent_tensors(agent).items()})
    except Exception as err:  # noqa: BLE001 - any failure of user code is recorded, the run goes on
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return failure("error", last, worker, wall, numerics, started_at)
    fitness = sum(scores.values()) / len(scores)
    outcome = {"status": "ok", "reason": "", "fitness": fitness, "scores": scores, "metrics": metrics,
               "curves": curves, "wall_seconds": wall, "worker": worker, "fingerprint": numerics,
               "started_at": started_at, "finished_at": time.time()}
    if keep_weights:
        outcome["weights"] = to_bytes(final)
    return outcome


def _initial_tensors(weights: bytes | None, weights_hash: str) -> Tensors | None:
    if weights is None:
        return None
    if digest(weights) != weights_hash:
        raise ValueError(f"initial weights whose SHA-256 is {weights_hash[:12]}… (they changed in transit)")
    return from_bytes(weights, f"weights {weights_hash[:12]}…")


def complete(genes: dict[str, Any]) -> Any:
    """The genome of genes the driver sent: a plugin core it names is loaded here too (the driver took
    the name from a run config, or from an installed entry point)."""
    from evo_fastslow.genome import SEARCH_SPACE
    from evo_fastslow.agents.cores import load_core

    if isinstance(genes.get("core"), str):
        load_core(genes["core"])
    return SEARCH_SPACE.complete(genes)


def initial_weights(genes: dict[str, Any], suites: list[FitnessSuite], seed: int) -> Tensors:
    """The fresh weights every suite's agent of `evaluate(genes, suites, seed, ...)` starts with."""
    from evo_fastslow.lifetime.run import agent_tensors, initial_agent

    genome = complete(genes)
    return {f"{suite.name}/{name}": value for suite in suites
            for name, value in agent_tensors(initial_agent(genome, suite.build_task(),
                                                           derive_seed(seed, suite.name))).items()}


def architecture(genes: dict[str, Any], suites: list[FitnessSuite]) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of every suite's agent: weights fit a genome when these agree."""
    from evo_fastslow.agents import Agent

    genome = complete(genes)
    found = {}
    for suite in suites:
        task = suite.build_task()
        found.update({f"{suite.name}/{name}": tuple(p.shape)
                      for name, p in Agent(genome, task.obs_dim, task.n_actions, task.view_shape).state_dict().items()})
    return found
