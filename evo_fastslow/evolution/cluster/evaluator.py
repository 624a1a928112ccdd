"""Where evaluations run: in-process, an embedded LocalCluster (the default), an existing scheduler,
or a SLURM/PBS job queue through dask-jobqueue. Results are taken as they complete; a lost worker
or task becomes a `crashed` outcome, never an exception in the run.

A Dask scheduler runs whatever code its clients send, so who can reach it matters: the LocalCluster
listens on loopback only; a job queue's scheduler (it must be reachable from the compute nodes) uses
TLS by default, with certificates made for the run (`security: temporary`) or given as files; a
remote scheduler is reached over TLS, or over plain TCP only where the config says `security: none`
in words. Dashboards listen on loopback unless `cluster.dashboard` says otherwise.

Workers are warmed when they join (a worker plugin loads the compiled kernels and computes the numeric
fingerprint), and the driver builds the kernels first, into `cluster.kernel_cache` when set (a
directory the workers share), so that no worker compiles them at its first evaluation.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from distributed.diagnostics.plugin import WorkerPlugin

from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.evolution.evaluate import evaluate, failure
from evo_fastslow.numerics import build
from evo_fastslow.lifetime.fingerprint import fingerprint


@dataclass(frozen=True)
class Job:
    key: int                 # genome id
    genes: dict[str, Any]
    seed: int
    task_seed: int
    cost: float = 1.0        # expected relative run time: the longest jobs are started first
    weights: bytes | None = None  # initial weights (safetensors), evolution/inheritance.py
    weights_hash: str = ""   # ... their SHA-256, checked by the worker
    keep_weights: bool = False  # return the end-of-lifetime weights
    suites: list | None = None  # the suites of this job (a budget rung's), else the evaluator's

    def inheritance_args(self) -> dict[str, Any]:
        """evaluate()'s weight arguments, only when there are any (an evaluate_fn may not take them)."""
        if self.weights is None and not self.keep_weights:
            return {}
        return {"weights": self.weights, "weights_hash": self.weights_hash, "keep_weights": self.keep_weights}


EvaluateFn = Callable[..., dict[str, Any]]
RESULT_FETCH_SECONDS = 60.0  # an outcome is a few kB: a worker that cannot hand it over in this long is frozen


class Evaluator:
    """Runs jobs on a Dask client (or in-process when there is none); outcomes come back as they finish.

    `run(jobs)` evaluates a batch (a generation); `start(job)` and `next_done()` serve a driver that keeps
    workers busy one job at a time (evolution/drivers/steady.py)."""

    def __init__(self, client: Any | None, suites: list, timeout: float | None, fn: EvaluateFn = evaluate,
                 dashboard: str | None = None, straggler_seconds: float | None = None,
                 straggler_multiple: float | None = None, straggler_floor: float = 10.0):
        self.client, self.suites, self.timeout, self.fn = client, suites, timeout, fn
        self.dashboard, self.straggler_seconds = dashboard, straggler_seconds
        self.straggler_multiple, self.straggler_floor = straggler_multiple, straggler_floor
        self._rates: list[float] = []         # seconds per unit of expected cost of the jobs finished so far
        self._suspects: set[str] = set()      # workers holding a straggler: no new job goes there until they deliver
        self._futures: dict[Any, int] = {}   # in flight on Dask: future -> job key (a backup copy: the same key)
        self._jobs: dict[int, Job] = {}       # in flight: job key -> job
        self._seen: dict[str, tuple[str, float]] = {}  # task key -> (worker, when first seen running there)
        self._done: deque[tuple[int, dict[str, Any]]] = deque()  # in-process: evaluated at start()
        self._completed: Any = None           # distributed.as_completed over the futures in flight
        self._workers_asked = (-float("inf"), 1)  # (when, how many workers the scheduler named)

    def start(self, job: Job, priority: int = 0) -> None:
        if self.client is None:
            self._done.append((job.key, self.fn(job.genes, job.suites or self.suites, job.seed, job.task_seed,
                                                self.timeout, **job.inheritance_args())))
            return
        self._jobs[job.key] = job
        self._submit(job, priority)

    def _submit(self, job: Job, priority: int, avoid: str | None = None) -> None:
        from distributed import as_completed

        # suites are small plain data: sent with each job, no scattered state to lose
        shunned = self._suspects | ({avoid} if avoid else set())
        elsewhere = [w for w in self.client.scheduler_info()["workers"] if w not in shunned] if shunned else None
        future = self.client.submit(self.fn, job.genes, job.suites or self.suites, job.seed, job.task_seed, self.timeout,
                                    **job.inheritance_args(), pure=False, priority=priority,
                                    workers=elsewhere or None, allow_other_workers=False)
        self._futures[future] = job.key
        if self.watches_stragglers:
            return  # _next_finished polls instead, to look for stragglers
        if self._completed is None:
            self._completed = as_completed([future])
        else:
            self._completed.add(future)

    def next_done(self) -> tuple[int, dict[str, Any]]:
        """The next job to finish (blocks); a lost worker or task is a `crashed` outcome."""
        if self.client is None:
            return self._done.popleft()
        while True:
            future = self._next_finished()
            key = self._futures.pop(future)
            copies = [f for f, k in self._futures.items() if k == key]
            try:
                outcome = future.result(timeout=self.straggler_seconds or (
                    self.straggler_floor if self.straggler_multiple else RESULT_FETCH_SECONDS))
            except TimeoutError:
                # done, but the worker holding the outcome does not hand it over (frozen after finishing):
                # evaluate the job again elsewhere; evaluations are pure, so the outcome is the same
                holders = self.client.who_has([future]).get(future.key, ())
                self._suspects.update(holders)
                future.release()
                if not copies:
                    self._submit(self._jobs[key], priority=1_000_000, avoid=next(iter(holders), None))
                continue
            except Exception as err:  # noqa: BLE001 - KilledWorker, lost connection, ...
                if copies:  # a backup copy may still deliver
                    future.release()
                    continue
                outcome = failure("crashed", f"{type(err).__name__}: {err}")
            for copy in copies:  # the same evaluation elsewhere: no longer needed
                self._futures.pop(copy)
                copy.cancel()
            future.release()
            job = self._jobs.pop(key)
            self._suspects.discard(outcome.get("worker", ""))  # it delivered: not frozen
            if outcome.get("status") == "ok" and job.cost > 0:
                self._rates.append(outcome.get("wall_seconds", 0.0) / job.cost)
            return key, outcome

    @property
    def watches_stragglers(self) -> bool:
        return self.straggler_seconds is not None or self.straggler_multiple is not None

    def straggler_limit(self, job: Job) -> float:
        """Seconds a job may run on one worker before it gets a backup copy: fixed, or adaptive — a multiple
        of the running median of seconds per unit of expected cost, times the job's cost, with a floor."""
        if self.straggler_seconds is not None:
            return self.straggler_seconds
        if len(self._rates) < 2:
            return float("inf")
        rates = sorted(self._rates)
        median = rates[len(rates) // 2] if len(rates) % 2 else (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2
        return max(self.straggler_floor, self.straggler_multiple * median * job.cost)

    def _next_finished(self) -> Any:
        if not self.watches_stragglers:
            return next(self._completed)
        poll = min(2.0, (self.straggler_seconds or self.straggler_floor) / 4)
        while True:  # wake up now and then to look for stragglers
            done = [f for f in self._futures if f.done()]
            if done:
                return done[0]
            from distributed import wait

            try:
                wait(list(self._futures), timeout=poll, return_when="FIRST_COMPLETED")
            except TimeoutError:
                self._back_up_stragglers()

    def _back_up_stragglers(self) -> None:
        """An evaluation seen running on the same worker for longer than its straggler limit, without a
        backup yet, gets one on any other worker."""
        running = self.client.run_on_scheduler(_running_on, keys=[f.key for f in self._futures])
        now = time.monotonic()
        copies = Counter(self._futures.values())
        for future, key in list(self._futures.items()):
            worker = running.get(future.key)
            if worker is None or self._seen.get(future.key, (None,))[0] != worker:
                self._seen[future.key] = (worker, now)
                continue
            if now - self._seen[future.key][1] > self.straggler_limit(self._jobs[key]) and copies[key] == 1 \
                    and self.workers > 1:
                self._suspects.add(worker)
                self._submit(self._jobs[key], priority=1_000_000, avoid=worker)
                copies[key] += 1

    @property
    def in_flight(self) -> int:
        return len(self._futures) + len(self._done)

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, Any]]]:
        # Longest first (Dask runs higher priority first), so that no long lifetime is left alone at the end.
        order = sorted(range(len(jobs)), key=lambda i: (jobs[i].cost, -i))
        ranks = {job_index: rank for rank, job_index in enumerate(order)}
        for index, job in enumerate(jobs):
            if self.client is None:  # evaluate one, hand it over, then the next
                self.start(job)
                yield self.next_done()
            else:
                self.start(job, ranks[index])
        while self.in_flight:
            yield self.next_done()

    def on_every_worker(self, function: Any, *args: Any) -> dict[str, Any]:
        """`function(*args)` on each worker (in-process: here), by worker: 'name (address)'."""
        if self.client is None:
            return {"in-process": function(*args)}
        names = {address: info.get("name", address) for address, info in
                 self.client.scheduler_info().get("workers", {}).items()}
        return {f"{names.get(address, address)} ({address})": value
                for address, value in self.client.run(function, *args).items()}

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """Each worker's numeric fingerprint (computing it also loads the kernels: a warm-up)."""
        if self.client is None:
            return {"in-process": fingerprint()}
        return self.client.run(fingerprint)

    @property
    def workers(self) -> int:
        """How many workers there are, asked of the scheduler at most once a second: the answer only sets
        how many jobs are kept in flight (never what is computed), and each question is a round trip."""
        if self.client is None:
            return 1
        now = time.monotonic()
        if now - self._workers_asked[0] > 1.0:
            self._workers_asked = (now, max(1, len(self.client.scheduler_info().get("workers", {}))))
        return self._workers_asked[1]


def _running_on(keys: list[str], dask_scheduler: Any = None) -> dict[str, str | None]:
    """On the scheduler: the worker each task is running on (None when it is not running)."""
    tasks = dask_scheduler.tasks
    return {key: (tasks[key].processing_on.address if key in tasks and tasks[key].processing_on else None)
            for key in keys}


class WarmUp(WorkerPlugin):
    """A worker plugin: load the kernels and compute the numeric fingerprint when a worker starts, not at
    its first evaluation (and on workers that join later, too)."""

    name = "evo-fastslow-warm-up"

    def setup(self, worker: Any) -> None:
        start = time.perf_counter()
        fingerprint()
        worker.evo_fastslow_warm_up_seconds = time.perf_counter() - start



def _warm_up_seconds(dask_worker: Any) -> float:
    return getattr(dask_worker, "evo_fastslow_warm_up_seconds", float("nan"))


@contextmanager
def open_evaluator(config: ClusterConfig, suites: list, fn: EvaluateFn = evaluate,
                   run_dir: Path | None = None) -> Iterator[Evaluator]:
    """An Evaluator on the configured cluster; the cluster it started is closed on exit."""
    if config.kernel_cache:
        os.environ["TORCH_EXTENSIONS_DIR"] = str(Path(config.kernel_cache).resolve())
    if config.workers == 0 and config.address is None and config.jobqueue is None:
        yield Evaluator(None, suites, config.evaluation_timeout, fn)
        return
    from distributed import Client, LocalCluster

    try:
        build.load()  # once, here: the workers find it in the (shared) extension cache
    except RuntimeError:
        pass  # every worker's fingerprint and evaluation will say why
    from evo_fastslow.evolution.cluster.jobqueue import client_security, jobqueue_cluster

    cluster = None
    if config.address is not None:
        client = Client(config.address, security=client_security(config))
    elif config.jobqueue is not None:
        cluster = jobqueue_cluster(config, run_dir)
        client = Client(cluster, direct_to_workers=True)
    else:
        # worker processes inherit the environment: one BLAS/OpenMP thread each
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        cluster = LocalCluster(n_workers=config.workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address=config.dashboard)
        client = Client(cluster, direct_to_workers=True)
    try:
        client.register_plugin(WarmUp())
        if config.jobqueue is None or config.jobqueue.adapt is None:  # adaptive: jobs start once tasks wait
            client.wait_for_workers(1)  # a job queue's first job may wait in the queue a while
        yield Evaluator(client, suites, config.evaluation_timeout, fn, _dashboard(client, config, cluster),
                        config.straggler_seconds, config.straggler_multiple, config.straggler_floor)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dashboard(client: Any, config: ClusterConfig, cluster: Any) -> str | None:
    """Where the dashboard of the scheduler is: the address it was bound to (loopback by default) for a
    scheduler this run started; the scheduler's own link for one it connected to."""
    port = client.scheduler_info().get("services", {}).get("dashboard")
    if cluster is None or port is None:
        return getattr(client, "dashboard_link", None) if port else None
    host = config.dashboard.rsplit(":", 1)[0] or "127.0.0.1"
    return f"http://{host}:{port}/status"


def warm_up_seconds(client: Any) -> dict[str, float]:
    """How long each worker took to load the kernels and compute its fingerprint when it joined."""
    return client.run(_warm_up_seconds)


