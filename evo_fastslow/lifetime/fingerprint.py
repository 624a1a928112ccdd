"""The numeric fingerprint of a process: what decides the numbers its lifetimes compute.

Versions and the build say what ran; the probe says what it computes: a tiny lifetime (a few updates
of a small LSTM on a 2-armed bandit, through every engine this process has, then its test) whose
learning curve, test figures and final weights are hashed. Two processes whose probes agree compute
the same numbers; a different CPU, BLAS or library version that would change a lifetime changes the
probe. Evaluations record the fingerprint's digest; the run's driver compares its workers' digests.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from typing import Any

COMPARED = ("mode", "probe")  # what must agree for two processes to compute the same numbers


@functools.lru_cache(maxsize=None)
def _fingerprint(mode: str, kernel: str) -> tuple[tuple[str, Any], ...]:
    import numpy as np
    import torch

    from evo_fastslow.lifetime import fused
    from evo_fastslow.numerics import build

    try:
        if kernel != "off":
            build.load()
        build_id = build.build_id()
    except RuntimeError as error:
        build_id = f"unbuilt ({error})"
    details = {"mode": mode, "kernel": kernel, "torch": torch.__version__, "numpy": np.__version__,
               "build": build_id, "engine": "fused" if fused.kernel_available() else "python",
               "probe": _safe_probe()}
    return tuple(details.items())


def fingerprint() -> dict[str, Any]:
    """This process's fingerprint (computed once per process and numerics setting), with its digest."""
    from evo_fastslow.lifetime.fused import kernel_mode
    from evo_fastslow.numerics import numerics_mode

    from evo_fastslow.plugins import LOADED

    details = dict(_fingerprint(numerics_mode(), kernel_mode()))
    details["plugins"] = dict(sorted(LOADED.items()))  # names and versions of the plugins loaded so far
    compared = json.dumps({k: details[k] for k in COMPARED}, sort_keys=True)
    return {"digest": hashlib.sha256(compared.encode()).hexdigest()[:12], **details}


def differences(a: dict[str, Any], b: dict[str, Any]) -> str:
    """'torch 2.13.0 -> 2.14.0, probe 1a2b -> 3c4d': what differs between two fingerprints."""
    keys = [k for k in ("mode", "kernel", "engine", "torch", "numpy", "build", "probe") if a.get(k) != b.get(k)]
    return ", ".join(f"{k} {a.get(k)} -> {b.get(k)}" for k in keys) or "nothing"


def _safe_probe() -> str:
    try:
        return _probe()
    except Exception as error:  # noqa: BLE001 - a process that cannot compute is told apart, not crashed
        return f"failed ({type(error).__name__}: {error})"


def _probe() -> str:
    """Hash of a tiny lifetime's numbers: a few updates, the test, the final weights."""
    from evo_fastslow.genome import SEARCH_SPACE
    from evo_fastslow.lifetime import fused
    from evo_fastslow.lifetime.run import train_and_test
    from evo_fastslow.suite import FitnessSuite

    genome = SEARCH_SPACE.complete({"core": "lstm", "hidden_size": 8, "episodes_per_update": 4, "grad_clip": 0.5})
    suite = FitnessSuite.model_validate({
        "schema": "evo_fastslow.suite/1", "name": "probe", "metric": "normalized_score",
        "task": {"kind": "bandit", "params": {"arms": 2, "trials": 20, "distribution": "independent"}},
        "lifetime": {"train_env_steps": 4 * 20 * 5}, "test": {"episodes": 16}})
    digest = hashlib.sha256()
    for engine in ("fused", "python"):
        with fused.python_path_only() if engine == "python" else contextlib.nullcontext():
            agent, result = train_and_test(genome, suite, seed=7)
        digest.update(json.dumps([result.learning_curve, result.test_regret, result.test_reward_per_trial]).encode())
        for tensor in agent.state_dict().values():
            digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]
