"""The steady-state driver of asynchronous searchers (`aging`, `map-elites`, `tpe`, `de`, ...): no
generation barrier.

It keeps every worker busy: proposal i is asked the moment results 0 .. i - lag are in (told to the
searcher first, in index order: evolution/searchers/base.py) and fewer than two jobs per worker are in
flight (the second waits at the scheduler, so a worker that finishes starts its next job without waiting
for the driver); each result is archived the moment it arrives. Genomes are archived before they are
evaluated, results whatever order they come back in, so a kill loses only what was in flight; `resume`
asks again from index 0 (proposals are a function of the results told, by index), checks every proposal
against the archived genome, and evaluates only those without a result. Every `population` indices form
an epoch, reported and checkpointed like a generation once all of its results are in.
"""

from __future__ import annotations

import time
from typing import Any

from evo_fastslow.archive import Evaluation, GenomeRecord, Trial
from evo_fastslow.evolution.drivers.context import RunContext
from evo_fastslow.evolution.drivers.progress import Bar
from evo_fastslow.evolution.policy.trials import Plan
from evo_fastslow.evolution.searchers.base import Candidate, SteadyStateSearcher
from evo_fastslow.evolution.stats import generation_stats


class SteadyState:
    def __init__(self, context: RunContext, searcher: SteadyStateSearcher):
        self.context, self.searcher = context, searcher
        self.popsize, self.lag = context.popsize, searcher.lag
        self.total = context.popsize * context.generations
        self.results: dict[int, Evaluation] = context.archive.evaluations()
        self.candidates: dict[int, Candidate] = {}
        self.contiguous = 0  # results 0 .. contiguous - 1 have all arrived
        self.told = 0        # results 0 .. told - 1 have been told to the searcher
        self._advance()

    def ready(self, index: int) -> bool:
        return ready(index, self.contiguous, self.popsize, self.lag)

    def ask(self, index: int) -> GenomeRecord:
        """Tell the searcher results 0 .. index - lag in order (all in; none before the initial population
        is asked, which is asked without waiting), then ask it for proposal `index`; the proposal archived."""
        while index >= self.popsize and self.told <= index - self.lag:
            self.searcher.tell(self.told, self.context.result(self.candidates[self.told].genome,
                                                              self.results[self.told]))
            self.told += 1
        candidate = self.candidates[index] = self.searcher.ask(index)
        record = GenomeRecord(index, index // self.popsize, index % self.popsize, dict(candidate.genome.genes),
                              candidate.origin, list(candidate.parents))
        self.context.archive.add_genomes([record])  # on resume: checked against the archived genome
        return record

    def run(self, checkpoint: dict[str, Any] | None) -> None:
        if self.context.book is not None:
            return self._run_trials(checkpoint)
        context, evaluator = self.context, self.context.evaluator
        finished_epochs = checkpoint["generation"] + 1 if checkpoint else 0
        next_index, in_flight, started = 0, set(), time.perf_counter()
        epoch_started = started
        failed = sum(e.status != "ok" for e in self.results.values())  # resumed ones; then counted as they come
        with self._progress(failed) as (bar, task):
            while self.contiguous < self.total:
                # a second job queued per worker hides the round trip to the driver between two jobs
                capacity = 2 * max(1, evaluator.workers)
                while next_index < self.total and len(in_flight) < capacity and self.ready(next_index):
                    record = self.ask(next_index)
                    if next_index not in self.results:
                        evaluator.start(context.job(record))
                        in_flight.add(next_index)
                    next_index += 1
                bar.update(task, running=min(len(in_flight), evaluator.workers))  # queued jobs: not busy
                if in_flight:
                    key, outcome = evaluator.next_done()
                    self.results[key] = context.archive_outcome(key, outcome)
                    failed += self.results[key].status != "ok"
                    in_flight.discard(key)
                self._advance()
                bar.update(task, completed=len(self.results), failed=failed,
                           running=min(len(in_flight), evaluator.workers), best=context.best_text())
                while finished_epochs < self.contiguous // self.popsize:  # an epoch's results are all in
                    self._finish_epoch(finished_epochs, time.perf_counter() - epoch_started, started)
                    finished_epochs, epoch_started = finished_epochs + 1, time.perf_counter()

    def _run_trials(self, checkpoint: dict[str, Any] | None) -> None:
        """With trials (evolution/policy/selection.py): genome i's plan sees the trials first asked for by
        genomes 0 .. i - lag (all decided when i is proposed; none for the initial population, proposed
        without waiting) and its own. Every plan runs again on resume, its archived trials used at once, so
        that the later plans see the same trials."""
        context, evaluator = self.context, self.context.evaluator
        finished_epochs = checkpoint["generation"] + 1 if checkpoint else 0
        self.results, self.contiguous = {}, 0
        plans: dict[int, Plan] = {}
        waiting: dict[Trial, set[int]] = {}   # trial in flight -> the plans waiting for it
        next_index, started, failed = 0, time.perf_counter(), 0
        epoch_started = started
        with self._progress(failed) as (bar, task):
            while self.contiguous < self.total:
                capacity = 2 * max(1, evaluator.workers)
                while next_index < self.total and len(waiting) < capacity and self.ready(next_index):
                    record = self.ask(next_index)
                    visible = decided_when_proposed(next_index, self.popsize, self.lag)
                    plans[next_index] = context.open_plan(record, visible, visible)
                    self._advance_plan(plans, next_index, waiting)
                    next_index += 1
                bar.update(task, running=min(len(waiting), evaluator.workers))
                if waiting:
                    trial, outcome = evaluator.next_done()
                    failed += context.land(trial, outcome)
                    for index in sorted(waiting.pop(trial)):
                        if not any(index in w for w in waiting.values()):
                            self._advance_plan(plans, index, waiting)
                self._advance()
                bar.update(task, completed=len(self.results), failed=failed,
                           running=min(len(waiting), evaluator.workers), best=context.best_text())
                while finished_epochs < self.contiguous // self.popsize:
                    self._finish_epoch(finished_epochs, time.perf_counter() - epoch_started, started)
                    finished_epochs, epoch_started = finished_epochs + 1, time.perf_counter()

    def _advance_plan(self, plans: dict[int, Plan], index: int, waiting: dict[Trial, set[int]]) -> None:
        """Start what plan `index` waits for, or archive its evaluation once it is decided."""
        book = self.context.book
        assert book is not None
        plan = plans[index]
        for trial in plan.advance(book):
            if trial not in waiting:
                waiting[trial] = set()
                self.context.evaluator.start(book.job(trial))
            waiting[trial].add(index)
        if plan.decision is not None:
            self.results[index] = self.context.finish(plan)
            del plans[index]

    def _advance(self) -> None:
        while self.contiguous in self.results:
            self.contiguous += 1

    def _finish_epoch(self, epoch: int, wall_seconds: float, started: float) -> None:
        """An epoch's summary; a searcher with `summary_meta` (MAP-Elites: its map) adds to the archive's meta."""
        records = self.context.archive.genomes(epoch)
        stats = generation_stats(epoch, records, self.results, wall_seconds)
        summary = getattr(self.searcher, "summary_meta", None)
        meta = summary(epoch, (epoch + 1) * self.popsize,
                       lambda i: self.context.result(self.candidates[i].genome, self.results[i])) if summary else None
        self.context.finish_generation(stats, started, meta)

    def _progress(self, failed: int) -> Bar:
        return Bar(self.context.console, self.context.config.searcher.name,
                   "{task.completed}/{task.total} evaluated, {task.fields[failed]} failed, {task.fields[running]} "
                   "workers busy, best so far {task.fields[best]}", total=self.total, done=len(self.results),
                   failed=failed, running=0, best=self.context.best_text())


def ready(index: int, contiguous: int, popsize: int, lag: int) -> bool:
    """The lag rule: proposal `index` may be made once results 0 .. index - lag are in (results 0 ..
    contiguous - 1 are); the initial population at once."""
    return index < popsize or index - lag < contiguous


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
