"""Prints, as JSON, what decides a run's numbers under this process's dispatch settings: short lifetimes
of every reference genome on its suite through both engines, and the archive of a short evolution.
tests/test_numerics.py runs it under several instruction-set settings and compares the outputs."""

import json
import sys
import tempfile
from pathlib import Path

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime import fused, run_lifetime
from evo_fastslow.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
GENOMES = {"wang2016-lstm": ["bandit-independent", "harlow"], "feedforward-blind": ["bandit-independent"],
           "wang2018-lstm": ["two-step"], "ritter2018-eplstm": ["recurring-contextual-bandits"],
           "nec-dnd": ["recurring-contextual-bandits"],
           "jackpot-surprise-lstm": ["jackpot-bandit"], "gridworld-lstm": ["gridworld", "gridworld-recurring"]}
EVOLUTION = ["budget.train_env_steps=16000", "budget.test_episodes=50", "population=4", "generations=2",
             "search_space.ranges.episodes_per_update=[16, 32]", "search_space.ranges.hidden_size=[8, 24]",
             "cluster.workers=0"]


def lifetimes() -> dict[str, list]:
    results = {}
    for name, suites in GENOMES.items():
        genome = load_genome(str(ROOT / f"populations/reference.json:{name}"))
        for suite_name in suites:
            suite = load_suite(ROOT / f"fitness/{suite_name}.yaml")
            suite = suite.model_copy(update={"lifetime": suite.lifetime.model_copy(update={"train_env_steps": 24_000}),
                                             "test": suite.test.model_copy(update={"episodes": 100})})
            for engine in ("fused", "python"):
                if engine == "python":
                    with fused.python_path_only():
                        result = run_lifetime(genome, suite, seed=0)
                else:
                    result = run_lifetime(genome, suite, seed=0)
                results[f"{name}/{suite_name}/{engine}"] = [result.status, result.test_regret,
                                                            result.learning_curve, result.test_reward_per_trial]
    return results


def evolution() -> list:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        Run(load_config(ROOT / "configs/quickstart.yaml", EVOLUTION), run_dir).start()
        with Archive(run_dir / "archive.sqlite") as archive:
            return [list(row) for row in archive.snapshot()]


if __name__ == "__main__":
    print(json.dumps({"lifetimes": lifetimes(), "evolution": evolution()} if sys.argv[1:] != ["lifetimes"]
                     else {"lifetimes": lifetimes()}))
