"""The steady-state driver of asynchronous searchers (`aging`, `map-elites`): no generation barrier.

It keeps every worker busy: a new genome is proposed the moment the searcher may (proposal i only
needs results 0 .. i - lag, evolution/aging.py) and fewer than two jobs per worker are in flight (the
second waits at the scheduler, so a worker that finishes starts its next job without waiting for the
driver); each result is archived the moment it arrives. Genomes are archived before they are evaluated, results whatever order they come
back in, so a kill loses only what was in flight; `resume` proposes again from index 0 (proposals are
a function of archived results by index), checks every proposal against the archived genome, and
evaluates only those without a result. Every `population` indices form an epoch, reported and
checkpointed like a generation once all of its results are in.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.console import LogProgress
from evo_fastslow.evolution.aging import AgingEvolution
from evo_fastslow.evolution.qd import MapElites
from evo_fastslow.evolution.cluster import Evaluator
from evo_fastslow.evolution.rounds import finish, land, open_plan
from evo_fastslow.evolution.selection import Trial
from evo_fastslow.evolution.stats import generation_stats
from evo_fastslow.evolution.trials import Plan
from evo_fastslow.genome import Genome

if TYPE_CHECKING:
    from evo_fastslow.evolution.loop import Run


class SteadyState:
    def __init__(self, run: "Run", searcher: AgingEvolution | MapElites, archive: Archive, evaluator: Evaluator):
        self.owner, self.searcher, self.archive, self.evaluator = run, searcher, archive, evaluator
        self.popsize = run.popsize
        self.total = run.popsize * run.config.generations
        self.results: dict[int, Evaluation] = archive.evaluations()
        self.genomes: dict[int, Genome] = {}
        self.contiguous = 0  # results 0 .. contiguous - 1 have all arrived
        self._advance()

    def run(self, checkpoint: dict[str, Any] | None) -> None:
        if self.owner.book is not None:
            return self._run_trials(checkpoint)
        finished_epochs = checkpoint["generation"] + 1 if checkpoint else 0
        next_index, in_flight, started = 0, set(), time.perf_counter()
        epoch_started = started
        failed = sum(e.status != "ok" for e in self.results.values())  # resumed ones; then counted as they come
        with self._progress(failed) as (bar, task):
            while self.contiguous < self.total:
                # a second job queued per worker hides the round trip to the driver between two jobs
                capacity = 2 * max(1, self.evaluator.workers)
                while (next_index < self.total and len(in_flight) < capacity
                       and self.searcher.ready(next_index, self.contiguous)):
                    if self._propose(next_index):
                        in_flight.add(next_index)
                    next_index += 1
                bar.update(task, running=min(len(in_flight), self.evaluator.workers))  # queued jobs: not busy
                if in_flight:
                    key, outcome = self.evaluator.next_done()
                    self.results[key] = self.owner.archive_outcome(self.archive, key, outcome)
                    failed += self.results[key].status != "ok"
                    in_flight.discard(key)
                self._advance()
                bar.update(task, completed=len(self.results), failed=failed,
                           running=min(len(in_flight), self.evaluator.workers), best=self.owner.best_text())
                while finished_epochs < self.contiguous // self.popsize:  # an epoch's results are all in
                    self._finish_epoch(finished_epochs, time.perf_counter() - epoch_started, started)
                    finished_epochs, epoch_started = finished_epochs + 1, time.perf_counter()

    def _run_trials(self, checkpoint: dict[str, Any] | None) -> None:
        """With trials (evolution/selection.py): genome i's plan sees the trials first asked for by genomes
        0 .. i - lag (all decided when i is proposed; none for the initial population, proposed without
        waiting) and its own. Every plan runs again on resume, its archived trials used at once, so that
        the later plans see the same trials."""
        finished_epochs = checkpoint["generation"] + 1 if checkpoint else 0
        self.results, self.contiguous = {}, 0
        plans: dict[int, Plan] = {}
        waiting: dict[Trial, set[int]] = {}   # trial in flight -> the plans waiting for it
        next_index, started, failed = 0, time.perf_counter(), 0
        epoch_started = started
        with self._progress(failed) as (bar, task):
            while self.contiguous < self.total:
                capacity = 2 * max(1, self.evaluator.workers)
                while (next_index < self.total and len(waiting) < capacity
                       and self.searcher.ready(next_index, self.contiguous)):
                    plans[next_index] = self._open(next_index)
                    self._advance_plan(plans, next_index, waiting)
                    next_index += 1
                bar.update(task, running=min(len(waiting), self.evaluator.workers))
                if waiting:
                    trial, outcome = self.evaluator.next_done()
                    failed += land(self.owner, trial, outcome)
                    for index in sorted(waiting.pop(trial)):
                        if not any(index in w for w in waiting.values()):
                            self._advance_plan(plans, index, waiting)
                self._advance()
                bar.update(task, completed=len(self.results), failed=failed,
                           running=min(len(waiting), self.evaluator.workers), best=self.owner.best_text())
                while finished_epochs < self.contiguous // self.popsize:
                    self._finish_epoch(finished_epochs, time.perf_counter() - epoch_started, started)
                    finished_epochs, epoch_started = finished_epochs + 1, time.perf_counter()

    def _open(self, index: int) -> Plan:
        candidate = self.searcher.propose(index, self.genomes.__getitem__,
                                          lambda i: self.owner.value(self.results[i]),
                                          evaluation=self.results.__getitem__)
        self.genomes[index] = candidate.genome
        record = GenomeRecord(index, index // self.popsize, index % self.popsize, dict(candidate.genome.genes),
                              candidate.origin, list(candidate.parents))
        self.archive.add_genomes([record])  # on resume: checked against the archived genome
        visible = decided_when_proposed(index, self.popsize, self.searcher.lag)
        return open_plan(self.owner, record, visible, visible)

    def _advance_plan(self, plans: dict[int, Plan], index: int, waiting: dict[Trial, set[int]]) -> None:
        """Start what plan `index` waits for, or archive its evaluation once it is decided."""
        plan = plans[index]
        for trial in plan.advance(self.owner.book):
            if trial not in waiting:
                waiting[trial] = set()
                self.evaluator.start(self.owner.book.job(trial))
            waiting[trial].add(index)
        if plan.decision is not None:
            self.results[index] = finish(self.owner, plan, self.archive)
            del plans[index]

    def _propose(self, index: int) -> bool:
        """Propose genome `index` and archive it; start its evaluation unless it has a result. True if started."""
        candidate = self.searcher.propose(index, self.genomes.__getitem__, lambda i: self.owner.value(self.results[i]),
                                          evaluation=self.results.__getitem__)
        self.genomes[index] = candidate.genome
        record = GenomeRecord(index, index // self.popsize, index % self.popsize, dict(candidate.genome.genes),
                              candidate.origin, list(candidate.parents))
        self.archive.add_genomes([record])  # on resume: checked against the archived genome
        if index in self.results:
            return False
        self.evaluator.start(self.owner.job(record))
        return True

    def _advance(self) -> None:
        while self.contiguous in self.results:
            self.contiguous += 1

    def _finish_epoch(self, epoch: int, wall_seconds: float, started: float) -> None:
        records = self.archive.genomes(epoch)
        stats = generation_stats(epoch, records, self.results, wall_seconds)
        if isinstance(self.searcher, MapElites):  # the map of every result up to this epoch's end
            self.archive.set_meta(f"map/{epoch}", self.searcher.map_at((epoch + 1) * self.popsize,
                                                                       self.genomes.__getitem__,
                                                                       self.results.__getitem__))
        self.owner.finish_generation(stats, self.archive, started)

    def _progress(self, failed: int) -> Any:
        progress = LogProgress(TextColumn(self.owner.config.searcher.name), BarColumn(),
                            TextColumn("{task.completed}/{task.total} evaluated, {task.fields[failed]} failed, "
                                       "{task.fields[running]} workers busy, best so far {task.fields[best]}"),
                            TimeElapsedColumn(),
                            console=self.owner.console, transient=True, refresh_per_second=2)
        return _Bar(progress, self.total, len(self.results), failed, self.owner.best_text())


def decided_when_proposed(index: int, popsize: int, lag: int) -> "_UpTo":
    """The genomes whose trials plan `index` may see: those certain to be decided when it is proposed,
    0 .. index - lag (the searcher waits for them), and none for the initial population, which is proposed
    without waiting: seeing whichever of its trials happened to arrive would depend on arrival order."""
    return _UpTo(index - lag if index >= popsize else -1)


class _UpTo:
    """Visibility for genome i: trials first asked for by genomes 0 .. i - lag."""

    def __init__(self, last: int):
        self.last = last

    def __call__(self, genome_id: int, round_: int) -> bool:
        return genome_id <= self.last


class _Bar:
    """The progress bar as a context manager yielding (progress, task)."""

    def __init__(self, progress: LogProgress, total: int, done: int, failed: int, best: str, **fields: Any):
        self.progress, self.total, self.done, self.failed, self.best = progress, total, done, failed, best
        self.fields = fields

    def __enter__(self) -> tuple[LogProgress, Any]:
        self.progress.__enter__()
        return self.progress, self.progress.add_task("evaluations", total=self.total, completed=self.done,
                                                     failed=self.failed, running=0, best=self.best, **self.fields)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)
