"""Where evaluations run: in-process, an embedded LocalCluster (the default), an existing scheduler,
or a SLURM/PBS job queue through dask-jobqueue. Results are taken as they complete; a lost worker
or task becomes a `crashed` outcome, never an exception in the run.
"""

from __future__ import annotations

import os
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from evo_fastslow.evolution.evaluate import evaluate, failure
from evo_fastslow.numerics.fingerprint import fingerprint


class JobQueueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["slurm", "pbs"] = Field(description="the batch system")
    jobs: int = Field(1, ge=1, description="batch jobs to start, each one worker process")
    cores: int = Field(1, ge=1, description="cores per job")
    memory: str = Field("4GiB", description="memory per job")
    walltime: str = Field("02:00:00", description="wall time per job")
    options: dict[str, Any] = Field(default_factory=dict, description="more dask-jobqueue keyword arguments")


class ClusterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    workers: int | None = Field(None, ge=0, description="LocalCluster worker processes (default: one per core); "
                                                         "0 evaluates in-process, for debugging")
    address: str | None = Field(None, description="connect to this running Dask scheduler instead")
    jobqueue: JobQueueConfig | None = Field(None, description="start workers as SLURM/PBS jobs")
    evaluation_timeout: float | None = Field(None, gt=0, description="seconds a lifetime may train: a safety net "
                                             "only (machine-dependent); env-steps decide fitness")


@dataclass(frozen=True)
class Job:
    key: int                 # genome id
    genes: dict[str, Any]
    seed: int
    task_seed: int
    cost: float = 1.0        # expected relative run time: the longest jobs are started first


EvaluateFn = Callable[..., dict[str, Any]]


class Evaluator:
    """Runs jobs on a Dask client (or in-process when there is none); outcomes come back as they finish.

    `run(jobs)` evaluates a batch (a generation); `start(job)` and `next_done()` serve a driver that keeps
    workers busy one job at a time (evolution/steady.py)."""

    def __init__(self, client: Any | None, suites: list, timeout: float | None, fn: EvaluateFn = evaluate):
        self.client, self.suites, self.timeout, self.fn = client, suites, timeout, fn
        self.dashboard: str | None = getattr(client, "dashboard_link", None) if client is not None else None
        self._futures: dict[Any, int] = {}   # in flight on Dask: future -> job key
        self._done: deque[tuple[int, dict[str, Any]]] = deque()  # in-process: evaluated at start()
        self._completed: Any = None           # distributed.as_completed over the futures in flight

    def start(self, job: Job, priority: int = 0) -> None:
        if self.client is None:
            self._done.append((job.key, self.fn(job.genes, self.suites, job.seed, job.task_seed, self.timeout)))
            return
        from distributed import as_completed

        # suites are small plain data: sent with each job, no scattered state to lose
        future = self.client.submit(self.fn, job.genes, self.suites, job.seed, job.task_seed, self.timeout,
                                    pure=False, priority=priority)
        self._futures[future] = job.key
        if self._completed is None:
            self._completed = as_completed([future])
        else:
            self._completed.add(future)

    def next_done(self) -> tuple[int, dict[str, Any]]:
        """The next job to finish (blocks); a lost worker or task is a `crashed` outcome."""
        if self.client is None:
            return self._done.popleft()
        future = next(self._completed)
        key = self._futures.pop(future)
        try:
            outcome = future.result()
        except Exception as err:  # noqa: BLE001 - KilledWorker, lost connection, ...
            outcome = failure("crashed", f"{type(err).__name__}: {err}")
        future.release()
        return key, outcome

    @property
    def in_flight(self) -> int:
        return len(self._futures) + len(self._done)

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, Any]]]:
        # Longest first (Dask runs higher priority first), so that no long lifetime is left alone at the end.
        ranks = {job.key: rank for rank, job in enumerate(sorted(jobs, key=lambda j: (j.cost, -j.key)))}
        for job in jobs:
            if self.client is None:  # evaluate one, hand it over, then the next
                self.start(job)
                yield self.next_done()
            else:
                self.start(job, ranks[job.key])
        while self.in_flight:
            yield self.next_done()

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """Each worker's numeric fingerprint (computing it also loads the kernels: a warm-up)."""
        if self.client is None:
            return {"in-process": fingerprint()}
        return self.client.run(fingerprint)

    @property
    def workers(self) -> int:
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info().get("workers", {})))


@contextmanager
def open_evaluator(config: ClusterConfig, suites: list, fn: EvaluateFn = evaluate) -> Iterator[Evaluator]:
    """An Evaluator on the configured cluster; the cluster it started is closed on exit."""
    if config.workers == 0 and config.address is None and config.jobqueue is None:
        yield Evaluator(None, suites, config.evaluation_timeout, fn)
        return
    from distributed import Client, LocalCluster

    cluster = None
    if config.address is not None:
        client = Client(config.address)
    elif config.jobqueue is not None:
        cluster = _jobqueue_cluster(config.jobqueue)
        client = Client(cluster)
    else:
        # worker processes inherit the environment: one BLAS/OpenMP thread each
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        cluster = LocalCluster(n_workers=config.workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
        client = Client(cluster)
    try:
        yield Evaluator(client, suites, config.evaluation_timeout, fn)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _jobqueue_cluster(config: JobQueueConfig) -> Any:
    import dask_jobqueue

    kind = dask_jobqueue.SLURMCluster if config.kind == "slurm" else dask_jobqueue.PBSCluster
    cluster = kind(cores=config.cores, processes=1, memory=config.memory, walltime=config.walltime,
                   **config.options)
    cluster.scale(jobs=config.jobs)
    return cluster
