"""Evolution scaling: how busy the workers are, generational (`ga`, `nsga2`) against asynchronous
(`aging`, `map-elites`).

1. For real, on this machine: a short evolution on 1 and 2 LocalCluster workers with each searcher;
   utilisation (busy worker-time over workers x wall time, from the archive), wall time, the workers'
   warm-up (kernels loaded and fingerprint computed when they join).
2. Simulated, at 16, 128 and 1,000 workers: the real driver (Run, the searchers, SteadyState, the
   SQLite archive) against a cluster on a virtual clock: nothing sleeps; each evaluation takes a
   duration drawn from the real runs' archive (lifetimes differ in cost by genome). Reported:
   utilisation, and the driver's own cost per evaluation (propose, archive commit, bookkeeping: the
   real seconds the simulation took, divided by its evaluations). Part 1 measures the same with a real
   Dask round trip: a run on 2 real workers whose evaluations cost nothing.

    python benchmarks/evolution_scaling.py [--workers 16 128 1000] [--real-only | --simulated-only]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from rich.console import Console
from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.evolution import loop
from evo_fastslow.evolution.cluster.evaluator import Job, open_evaluator, warm_up_seconds
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run

REAL = ["budget.train_env_steps=150000", "budget.test_episodes=100", "population=8", "generations=3"]
SEARCHERS = {"ga": ["searcher={name: ga, elites: 2}"], "aging": ["searcher={name: aging}"]}
SIMULATED = {**SEARCHERS, "nsga2": ["searcher={name: nsga2}"], "map-elites": ["searcher={name: map-elites}", "evaluation.rungs=[1.0]"]}
ASYNCHRONOUS = ("aging", "map-elites")


def real_run(searcher: str, workers: int) -> dict[str, float]:
    lag = [f"searcher.lag={min(8, 4 * workers)}"] if searcher == "aging" else []
    config = load_config("configs/quickstart.yaml", [*REAL, *SEARCHERS[searcher], *lag, f"cluster.workers={workers}"])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        Run(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True)).start()
        wall = time.perf_counter() - start
        with Archive(Path(tmp) / "run" / "archive.sqlite") as archive:
            use = archive.utilisation()
            durations = [e.finished_at - e.started_at for e in archive.evaluations().values()]
    return {"wall": wall, "utilisation": use["utilisation"], "durations": durations}


def instant(genes: dict[str, Any], suites: Any, seed: int, task_seed: int, timeout: float | None = None,
            **_: Any) -> dict[str, Any]:
    """An evaluation that costs nothing: what remains of a run is the driver and Dask."""
    now = time.time()
    return {"status": "ok", "reason": "", "fitness": float(-abs(np.log(genes["learning_rate"] / 3e-3))),
            "scores": {}, "metrics": {}, "curves": {}, "wall_seconds": 0.0, "worker": "", "started_at": now,
            "finished_at": now}


class TimedRun(Run):
    """The real driver, noting the clocks each time an outcome is archived."""

    def archive_outcome(self, archive: Archive, key: int, outcome: dict[str, Any]) -> Any:
        self.clocks.append((time.perf_counter(), time.process_time()))
        return super().archive_outcome(archive, key, outcome)


def round_trip(searcher: str, workers: int, evaluations: int = 480) -> tuple[float, float]:
    """(wall ms, driver CPU ms) per evaluation of the whole outer loop on a real LocalCluster when
    lifetimes cost nothing, from the first result to the last. CPU: the driver process's, which holds
    the scheduler too (as with a job queue): propose, archive commit, Dask's submit, scheduling and
    gather. Wall: bound by the round trip's latency with 2 jobs in flight per worker."""
    population = 4 * workers
    lag = [f"searcher.lag={2 * workers}"] if searcher == "aging" else []
    config = load_config("configs/quickstart.yaml", [*SEARCHERS[searcher], *lag, f"population={population}",
                                                     f"generations={evaluations // population}",
                                                     f"cluster.workers={workers}"])
    with tempfile.TemporaryDirectory() as tmp:
        run = TimedRun(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True), evaluate_fn=instant)
        run.clocks = []
        run.start()
    return _per_evaluation(run.clocks)


def _per_evaluation(clocks: list[tuple[float, float]]) -> tuple[float, float]:
    """(wall ms, CPU ms) per evaluation between the first and the last (wall, CPU) clock reading."""
    (wall0, cpu0), (wall1, cpu1) = clocks[0], clocks[-1]
    return 1000 * (wall1 - wall0) / (len(clocks) - 1), 1000 * (cpu1 - cpu0) / (len(clocks) - 1)


def bare_dask(workers: int, evaluations: int = 480) -> tuple[float, float]:
    """The same with no driver at all: a bare Dask loop (submit, as_completed, result) keeping two tasks
    in flight per worker, each the same costless evaluation of one fixed genome. What Dask itself costs
    the driver's process per task, the floor under `round_trip`."""
    from distributed import Client, LocalCluster, as_completed

    config = load_config("configs/quickstart.yaml", [])
    genes, suites = config.space().default().genes, config.fitness_suites()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster, direct_to_workers=True) as client:
        client.wait_for_workers(workers)
        submit = lambda: client.submit(instant, genes, suites, 0, 0, None, pure=False)  # noqa: E731
        completed, clocks = as_completed([submit() for _ in range(2 * workers)]), []
        for done, future in enumerate(completed, start=1):
            future.result()
            clocks.append((time.perf_counter(), time.process_time()))
            if done + 2 * workers <= evaluations:
                completed.add(submit())
    return _per_evaluation(clocks)


def warm_up(workers: int) -> dict[str, float]:
    config = load_config("configs/quickstart.yaml", [f"cluster.workers={workers}"])
    with open_evaluator(config.cluster, config.fitness_suites()) as evaluator:
        return warm_up_seconds(evaluator.client)


class VirtualCluster:
    """An Evaluator on a virtual clock: `workers` workers, each evaluation lasting a duration drawn (by its
    genome id, so the same in every run) from `durations`; outcomes are a cheap synthetic fitness."""

    def __init__(self, workers: int, durations: list[float]):
        self.n, self.durations, self.clock = workers, durations, 0.0
        self.queue: list[tuple[int, int, Job]] = []       # (-priority, order, job) waiting for a worker
        self.running: list[tuple[float, int, Job]] = []   # (finish time, order, job)
        self.busy_seconds, self.order, self.dashboard = 0.0, 0, None

    @property
    def workers(self) -> int:
        return self.n

    @property
    def in_flight(self) -> int:
        return len(self.queue) + len(self.running)

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        return {}

    def start(self, job: Job, priority: int = 0) -> None:
        self.order += 1
        heapq.heappush(self.queue, (-priority, self.order, job))
        self._dispatch()

    def duration(self, job: Job) -> float:
        """Seconds the job takes: a duration drawn by its key (the same in every run)."""
        return self.durations[np.random.default_rng(zlib.crc32(repr(job.key).encode())).integers(len(self.durations))]

    def fitness(self, job: Job) -> float:
        """A cheap synthetic fitness with its optimum at a learning rate of 3e-3 and 48 units."""
        return float(-abs(np.log(job.genes["learning_rate"] / 3e-3)) - abs(job.genes["hidden_size"] - 48) / 48)

    def _dispatch(self) -> None:
        while self.queue and len(self.running) < self.n:
            _, order, job = heapq.heappop(self.queue)
            duration = self.duration(job)
            self.busy_seconds += duration
            heapq.heappush(self.running, (self.clock + duration, order, job))

    def next_done(self) -> tuple[int, dict[str, Any]]:
        finish, _, job = heapq.heappop(self.running)
        self.clock = finish
        self._dispatch()
        return job.key, {"status": "ok", "reason": "", "fitness": self.fitness(job), "scores": {}, "metrics": {},
                         "curves": {}, "wall_seconds": 0.0, "worker": f"virtual-{self.order % self.n}"}

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, Any]]]:
        order = sorted(range(len(jobs)), key=lambda i: (jobs[i].cost, -i))  # a key is a genome id or a Trial
        ranks = {i: rank for rank, i in enumerate(order)}
        for i, job in enumerate(jobs):
            self.start(job, ranks[i])
        while self.in_flight:
            yield self.next_done()


def simulated_run(searcher: str, workers: int, durations: list[float], lag: int = 0) -> dict[str, float]:
    """ga, nsga2: a generation of `workers` genomes (one each), 40 generations; aging, map-elites:
    40 x workers evaluations, population (epoch) max(2 x workers, lag)."""
    population = max(2 * workers, lag) if searcher in ASYNCHRONOUS else workers
    generations = max(1, 40 * workers // population) if searcher in ASYNCHRONOUS else 40
    overrides = [f"population={population}", f"generations={generations}", "cluster.workers=0",
                 *SIMULATED[searcher]]
    if searcher in ASYNCHRONOUS:
        overrides.append(f"searcher.lag={lag}")
    config = load_config("configs/quickstart.yaml", overrides)
    cluster = VirtualCluster(workers, durations)

    @contextlib.contextmanager
    def virtual(*args: Any, **kwargs: Any) -> Iterator[VirtualCluster]:
        yield cluster

    real_open, loop.open_evaluator = loop.open_evaluator, virtual
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            Run(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True)).start()
            driver = time.perf_counter() - start
    finally:
        loop.open_evaluator = real_open
    evaluations = population * generations
    return {"utilisation": cluster.busy_seconds / (workers * cluster.clock), "evaluations": evaluations,
            "driver_ms": 1000 * driver / evaluations, "makespan": cluster.clock}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[16, 128, 1000])
    parser.add_argument("--real-only", action="store_true")
    parser.add_argument("--simulated-only", action="store_true")
    args = parser.parse_args()
    console = Console(width=130)
    durations: list[float] = []
    if not args.simulated_only:
        table = Table(title="for real: population 8, 3 generations (24 evaluations), 150k env-steps per lifetime")
        for column in ("searcher", "workers", "wall s", "utilisation"):
            table.add_column(column, justify="right")
        for searcher in SEARCHERS:
            for workers in (1, 2):
                result = real_run(searcher, workers)
                durations += result["durations"]
                table.add_row(searcher, str(workers), f"{result['wall']:.1f}", f"{result['utilisation']:.1%}")
        console.print(table)
        costs = {searcher: round_trip(searcher, 2) for searcher in SEARCHERS}
        costs["bare Dask loop (no driver)"] = bare_dask(2)
        console.print("the outer loop's cost per evaluation on 2 real workers, lifetimes costing nothing "
                      "(propose, archive commit, Dask submit, scheduling and gather; the scheduler runs in the "
                      "driver's process): " + ", ".join(f"{name} {cpu:.2f} ms of CPU ({wall:.2f} ms wall)"
                                                        for name, (wall, cpu) in costs.items()))
        seconds = warm_up(2)
        console.print("warm-up per worker (kernels loaded, numeric fingerprint computed, on joining): "
                      + ", ".join(f"{s:.2f} s" for s in seconds.values()))
    if args.real_only:
        return
    if not durations:  # lifetimes of the bandit suite differ about threefold in cost by genome
        durations = list(np.random.default_rng(0).uniform(0.5, 1.5, 200))
    table = Table(title=f"simulated (virtual clock, the real driver): {len(durations)} lifetime durations "
                        f"from {min(durations):.2f} to {max(durations):.2f} s")
    for column in ("searcher", "workers", "lag", "evaluations", "utilisation", "driver ms / evaluation"):
        table.add_column(column, justify="right")
    for searcher in SIMULATED:  # lazy imports (pyribs, pymoo: seconds) outside the timed runs
        simulated_run(searcher, 4, durations, 8)
    for workers in args.workers:
        for searcher, lag in (("ga", 0), ("nsga2", 0), ("aging", workers), ("aging", 2 * workers),
                              ("map-elites", 2 * workers)):
            result = simulated_run(searcher, workers, durations, lag)
            table.add_row(searcher, str(workers), str(lag or "-"), str(result["evaluations"]),
                          f"{result['utilisation']:.1%}", f"{result['driver_ms']:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
