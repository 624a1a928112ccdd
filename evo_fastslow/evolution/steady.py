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

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.evolution.aging import AgingEvolution
from evo_fastslow.evolution.qd import MapElites
from evo_fastslow.evolution.cluster import Evaluator
from evo_fastslow.evolution.stats import generation_stats
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

    def _propose(self, index: int) -> bool:
        """Propose genome `index` and archive it; start its evaluation unless it has a result. True if started."""
        candidate = self.searcher.propose(index, self.genomes.__getitem__, lambda i: self.results[i].fitness,
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
        progress = Progress(TextColumn(self.owner.config.searcher.name), BarColumn(),
                            TextColumn("{task.completed}/{task.total} evaluated, {task.fields[failed]} failed, "
                                       "{task.fields[running]} workers busy, best so far {task.fields[best]}"),
                            TimeElapsedColumn(),
                            console=self.owner.console, transient=True, refresh_per_second=2)
        return _Bar(progress, self.total, len(self.results), failed, self.owner.best_text())


class _Bar:
    """The progress bar as a context manager yielding (progress, task)."""

    def __init__(self, progress: Progress, total: int, done: int, failed: int, best: str):
        self.progress, self.total, self.done, self.failed, self.best = progress, total, done, failed, best

    def __enter__(self) -> tuple[Progress, Any]:
        self.progress.__enter__()
        return self.progress, self.progress.add_task("evaluations", total=self.total, completed=self.done,
                                                     failed=self.failed, running=0, best=self.best)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)
