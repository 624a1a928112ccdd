"""Searchers at cluster scale on a surrogate of this project's own evaluations (issue 41, item 4).

As NAS-Bench-301 does for architecture search, a surrogate stands in for the lifetimes: random forests
(scikit-learn) fitted to every trial the archives hold (`runs/selection-mid/*/seed-*/archive.sqlite`:
configs/bandits.yaml at 0.5M env-steps per suite, both budget rungs) predict a genome's fitness at each rung;
a trial's fitness is that prediction plus noise drawn with the spread replicates of one genome showed
(residuals around each genome's mean, per rung), seeded by the trial's own seeds, so shared replicates stay
shared. A trial lasts its env-steps divided by a throughput fitted the same way from the trials' wall seconds.

The real driver, searcher and archive run against a cluster on a virtual clock (evolution_scaling.py's
VirtualCluster) of 64 and 256 workers. Reported per searcher: the virtual wall time and env-steps at which
the genome the run would name (its `ranked()` best) first has a true (noise-free) fitness above the target,
and the true fitness of the genome it names at the end.

    python benchmarks/surrogate_scaling.py [--workers 64 256] [--rounds 12] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import RandomForestRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evolution_scaling import VirtualCluster  # noqa: E402

from evo_fastslow.archive import Archive, Trial  # noqa: E402
from evo_fastslow.evolution import loop  # noqa: E402
from evo_fastslow.evolution.cluster.evaluator import Job  # noqa: E402
from evo_fastslow.evolution.config import load_config  # noqa: E402
from evo_fastslow.evolution.loop import Run  # noqa: E402
from evo_fastslow.statistics import mean_interval  # noqa: E402

CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "bandits.yaml")
SCALE = ["budget.train_env_steps=500000", "budget.test_episodes=500"]  # the archives' scale (the mid scale)
SEARCHERS = {  # generational: a generation per round of workers; steady-state: a lag of the workers
    "ga (default)": ("generational", ["searcher.name=ga"]),
    "aging": ("steady", ["searcher.name=aging"]),
    "guided": ("steady", ["searcher.name=guided", "searcher.mode=steady"]),
    "de": ("steady", ["searcher.name=de"]),
    "tpe": ("steady", ["searcher.name=tpe"]),
}


class Surrogate:
    """Fitness per rung and seconds per env-step of a genome, fitted to archived trials."""

    def __init__(self, archives: list[str], space: Any):
        self.space = space
        rows: dict[int, list[tuple[np.ndarray, str, float]]] = {}
        speeds: list[tuple[np.ndarray, float]] = []
        for path in archives:
            with Archive(path, create=False, skip_damaged=True) as archive:
                outcomes = archive.trials()
                for subject, genes, _, rung, replicate, steps, status, fitness in archive.trial_rows():
                    if status != "ok":
                        continue
                    x = space.encode(space.complete({k: v for k, v in genes.items() if k in space.genes}))
                    rows.setdefault(rung, []).append((x, subject, float(fitness)))
                    seconds = outcomes.get(Trial(subject, rung, replicate), {}).get("wall_seconds")
                    if seconds:
                        speeds.append((x, steps / seconds))
        self.models, self.noise = {}, {}
        for rung, found in sorted(rows.items()):
            xs, subjects, ys = np.array([r[0] for r in found]), [r[1] for r in found], np.array([r[2] for r in found])
            self.models[rung] = RandomForestRegressor(n_estimators=200, min_samples_leaf=3, random_state=0).fit(xs, ys)
            by_subject: dict[str, list[float]] = {}
            for subject, y in zip(subjects, ys):
                by_subject.setdefault(subject, []).append(float(y))
            residuals = [y - np.mean(v) for v in by_subject.values() if len(v) > 1 for y in v]
            self.noise[rung] = float(np.std(residuals)) if len(residuals) > 10 else float(np.std(ys)) / 2
        self.trials = sum(len(v) for v in rows.values())
        self.speed = RandomForestRegressor(n_estimators=100, random_state=0).fit(
            np.array([s[0] for s in speeds]), np.log([s[1] for s in speeds]))
        self.top_rung = max(self.models)

    def vector(self, genes: dict[str, Any]) -> np.ndarray:
        return self.space.encode(self.space.complete({k: v for k, v in genes.items() if k in self.space.genes}))

    def true(self, genes: dict[str, Any], rung: int | None = None) -> float:
        return float(self.models[self.top_rung if rung is None else rung].predict(self.vector(genes)[None])[0])

    def draw(self, job: Job, rung: int) -> float:
        """The true value at the rung plus seeded noise: the same genes and seeds, the same draw."""
        key = json.dumps([job.genes, job.seed, job.task_seed], sort_keys=True, default=str).encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
        return self.true(job.genes, rung) + self.noise[rung] * float(rng.standard_normal())

    def seconds(self, job: Job, steps: int) -> float:
        return steps / float(np.exp(self.speed.predict(self.vector(job.genes)[None])[0]))


class SurrogateCluster(VirtualCluster):
    """The virtual cluster with the surrogate's fitness and durations; it counts the env-steps landed."""

    def __init__(self, workers: int, surrogate: Surrogate, full_steps: int):
        super().__init__(workers, [1.0])
        self.surrogate, self.full_steps, self.spent = surrogate, full_steps, 0

    def _steps(self, job: Job) -> int:
        return sum(s.lifetime.train_env_steps for s in job.suites) if job.suites else self.full_steps

    def duration(self, job: Job) -> float:
        return self.surrogate.seconds(job, self._steps(job))

    def fitness(self, job: Job) -> float:
        steps = self._steps(job)
        self.spent += steps  # counted as the job lands
        return self.surrogate.draw(job, 0 if steps < self.full_steps else self.surrogate.top_rung)


class Named:
    """What the run would name as its best after each archived evaluation (Archive.ranked's order: successes,
    the highest rung, survivors of a race, then the mean; with shared seeds a genome's latest row), and the
    virtual time and env-steps at which that genome's true fitness first reached the target."""

    def __init__(self, cluster: SurrogateCluster, surrogate: Surrogate, target: float):
        self.cluster, self.surrogate, self.target = cluster, surrogate, target
        self.latest: dict[str, tuple] = {}
        self.reached: tuple[float, int] | None = None

    def archived(self, genes: dict[str, Any], evaluation: Any) -> None:
        key = json.dumps(genes, sort_keys=True)
        level = (evaluation.status == "ok", 2 * evaluation.rung + (not evaluation.decision.startswith("raced out")),
                 evaluation.fitness, -evaluation.genome_id)
        self.latest[key] = (level, genes)
        if self.reached is None:
            _, best = max(self.latest.values(), key=lambda v: v[0])
            if self.surrogate.true(best) >= self.target:
                self.reached = (self.cluster.clock, self.cluster.spent)


def simulated(name: str, workers: int, rounds: int, seed: int, surrogate: Surrogate, target: float
              ) -> dict[str, Any]:
    style, overrides = SEARCHERS[name]
    population, generations = (workers, rounds) if style == "generational" else (2 * workers, max(1, rounds // 2))
    extra = [] if style == "generational" else [f"searcher.lag={workers}"]
    config = load_config(CONFIG, [*SCALE, f"population={population}", f"generations={generations}", f"seed={seed}",
                                  "cluster.workers=0", *overrides, *extra])
    full = sum(s.lifetime.train_env_steps for s in config.fitness_suites())
    cluster = SurrogateCluster(workers, surrogate, full)
    named = Named(cluster, surrogate, target)

    class WatchedArchive(Archive):
        def add_evaluation(self, e: Any) -> None:
            super().add_evaluation(e)
            record = self.genome(e.genome_id)
            if record is not None:
                named.archived(record.genes, e)

    @contextlib.contextmanager
    def virtual(*args: Any, **kwargs: Any) -> Iterator[SurrogateCluster]:
        yield cluster

    real = loop.open_evaluator, loop.Archive
    loop.open_evaluator, loop.Archive = virtual, WatchedArchive
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            Run(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True), yes=True).start()
            with Archive(Path(tmp) / "run" / "archive.sqlite", create=False) as archive:
                final = surrogate.true(archive.ranked(1)[0][0].genes)
    finally:
        loop.open_evaluator, loop.Archive = real
    return {"final": final, "reached": named.reached, "makespan": cluster.clock, "env_steps": cluster.spent,
            "driver_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", default="runs/selection-mid/*/seed-*/archive.sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=12, help="evaluations per run: rounds x workers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(SEARCHERS))
    args = parser.parse_args()
    console = Console(width=150)
    archives = sorted(glob.glob(args.archives))
    if not archives:
        sys.exit(f"no archives match {args.archives}: run benchmarks/selection.py at the mid scale first")
    space = load_config(CONFIG, SCALE).space()
    surrogate = Surrogate(archives, space)
    rng = np.random.default_rng(0)
    probe = [surrogate.true(dict(space.decode(rng.random(len(space))).genes)) for _ in range(2000)]
    target = float(np.quantile(probe, 0.99))  # better than 99% of random genomes
    console.print(f"surrogate: {surrogate.trials} trials from {len(archives)} archives; noise per rung "
                  f"{', '.join(f'{r}: {s:.3f}' for r, s in surrogate.noise.items())}; target (true fitness above 99% "
                  f"of random genomes) {target:.3f}")
    table = Table(title=f"{args.rounds} x workers evaluations per run, {len(args.seeds)} run seeds: mean [95% CI]")
    for column in ("searcher", "workers", "named genome's true fitness", "reached target", "virtual hours to target",
                   "env-steps to target", "driver s / run"):
        table.add_column(column, justify="right")
    for workers in args.workers:
        for name in args.only or SEARCHERS:
            results = [simulated(name, workers, args.rounds, seed, surrogate, target) for seed in args.seeds]
            final = mean_interval([r["final"] for r in results])
            hit = [r["reached"] for r in results if r["reached"]]
            table.add_row(name, str(workers), f"{final.mean:.3f} [{final.low:.3f}, {final.high:.3f}]",
                          f"{len(hit)}/{len(results)}",
                          f"{np.mean([h[0] for h in hit]) / 3600:.2f}" if hit else "-",
                          f"{np.mean([h[1] for h in hit]) / 1e6:,.0f}M" if hit else "-",
                          f"{np.mean([r['driver_s'] for r in results]):.0f}")
            console.print(f"{name} at {workers} workers: named genome's true fitness {final.mean:.3f}, target "
                          f"reached in {len(hit)}/{len(results)} runs"
                          + (f", after {np.mean([h[0] for h in hit]) / 3600:.2f} virtual hours and "
                             f"{np.mean([h[1] for h in hit]) / 1e6:,.0f}M env-steps" if hit else ""),
                          highlight=False)  # each row as it is measured: a long run stopped early keeps them
    console.print(table)


if __name__ == "__main__":
    main()
