"""evaluate(genes, suites, seed, task_seed): the pure function a Dask worker runs for one genome.

Arguments and result are plain data. A lifetime that diverges or times out, or code that raises,
comes back as an outcome with its status and reason: failure is data, never an exception here.
Every outcome carries the digest of the worker's numeric fingerprint (numerics/fingerprint.py).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from evo_fastslow.numerics.fingerprint import fingerprint
from evo_fastslow.seeds import derive_seed
from evo_fastslow.suite import WORST_FITNESS, FitnessSuite

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
             max_seconds: float | None = None) -> dict[str, Any]:
    """Lifetimes of one genome on every suite; fitness = the mean of the suites' fitnesses."""
    from evo_fastslow.genome import SEARCH_SPACE
    from evo_fastslow.lifetime import run_lifetime

    worker, wall, numerics, started_at = _worker_name(), 0.0, "", time.time()
    scores, metrics, curves = {}, {}, {}
    try:
        numerics = fingerprint()["digest"]
        genome = SEARCH_SPACE.complete(genes)
        for suite in suites:
            result = run_lifetime(genome, suite, derive_seed(seed, suite.name),
                                  task_seed=derive_seed(task_seed, suite.name), max_seconds=max_seconds)
            wall += result.wall_seconds
            if result.status != "ok":
                return failure(result.status, f"{suite.name}: {result.reason}", worker, wall, numerics, started_at)
            scores[suite.name] = suite.fitness(result)
            data = result.to_dict()
            curves[suite.name] = data.pop("learning_curve")
            metrics[suite.name] = {k: v for k, v in data.items() if k not in NON_DETERMINISTIC}
    except Exception as err:  # noqa: BLE001 - any failure of user code is recorded, the run goes on
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return failure("error", last, worker, wall, numerics, started_at)
    fitness = sum(scores.values()) / len(scores)
    return {"status": "ok", "reason": "", "fitness": fitness, "scores": scores, "metrics": metrics,
            "curves": curves, "wall_seconds": wall, "worker": worker, "fingerprint": numerics,
            "started_at": started_at, "finished_at": time.time()}
