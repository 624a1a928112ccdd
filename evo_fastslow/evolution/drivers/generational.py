"""The generational driver: the searcher asks for a generation, the generation is decided, the searcher
is told (evolution/searchers/base.py). With trials (evolution/policy/), a generation's plans advance in rounds.

Round t of generation g: every plan still deciding asks for the trials it needs, seeing the trials first
asked for by earlier generations and by this generation's rounds before t (all finished: a round ends
when its trials are in). So promotion compares a genome with its whole generation's rung, and what
each plan decides does not depend on the order trials arrive in. On resume the finished generations are
asked and told again from the archive (nothing is evaluated twice), the checkpointed one checked against
its digest; in the generation that was in flight, only what has no archived result is evaluated.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack
from typing import Any

from evo_fastslow.archive import Evaluation, GenomeRecord, Trial
from evo_fastslow.evolution.drivers.context import RunContext
from evo_fastslow.evolution.drivers.progress import Bar
from evo_fastslow.evolution.policy.trials import Plan
from evo_fastslow.evolution.searchers.base import GenerationalSearcher
from evo_fastslow.evolution.stats import GenerationStats, generation_stats


class Generational:
    def __init__(self, context: RunContext, searcher: GenerationalSearcher):
        self.context, self.searcher = context, searcher

    def run(self, checkpoint: dict[str, Any] | None) -> None:
        replay_until = checkpoint["generation"] if checkpoint else -1
        started = time.perf_counter()
        for generation in range(self.context.generations):
            stats = self.generation(generation, checkpoint if generation <= replay_until else None)
            if generation > replay_until:
                self.context.finish_generation(stats, started)

    def generation(self, generation: int, replayed: dict[str, Any] | None) -> GenerationStats:
        context, start = self.context, time.perf_counter()
        candidates = self.searcher.ask(generation)
        if len(candidates) != context.popsize:
            raise ValueError(f"searcher {context.config.searcher.name} proposed {len(candidates)} genomes in "
                             f"generation {generation}, not population = {context.popsize}")
        first = generation * context.popsize
        records = [GenomeRecord(first + i, generation, i, dict(c.genome.genes), c.origin, list(c.parents))
                   for i, c in enumerate(candidates)]
        context.archive.add_genomes(records)  # on resume: checked against the archived genomes
        outcomes = self.evaluate(generation, records)
        self.searcher.tell(generation, [context.result(c.genome, outcomes[r.id]) for c, r in zip(candidates, records)])
        context.check_replay(generation, records, [outcomes[r.id].fitness for r in records], replayed)
        return generation_stats(generation, records, outcomes, time.perf_counter() - start)

    def evaluate(self, generation: int, records: list[GenomeRecord]) -> dict[int, Evaluation]:
        """Archived evaluations are reused; the rest run, each committed the moment it arrives."""
        context = self.context
        if context.book is not None:
            return evaluate_in_rounds(context, generation, records)
        done = context.archive.evaluations([r.id for r in records])
        jobs = [context.job(r) for r in records if r.id not in done]
        if not jobs:
            return done
        failed, workers = 0, context.evaluator.workers
        with Bar(context.console, f"generation {generation + 1}/{context.generations}",
                 "{task.completed}/{task.total} done, {task.fields[failed]} failed, {task.fields[running]} running, "
                 "best so far {task.fields[best]}", total=len(jobs), failed=0, running=min(len(jobs), workers),
                 best=context.best_text()) as (bar, task):
            for count, (key, outcome) in enumerate(context.evaluator.run(jobs), start=1):
                evaluation = done[key] = context.archive_outcome(key, outcome)
                failed += evaluation.status != "ok"
                bar.update(task, completed=count, failed=failed, running=min(len(jobs) - count, workers),
                           best=context.best_text())
        return done


class GenerationWindow:
    """Visibility in generation g, round t: first asked for before the generation, or in it before round t."""

    def __init__(self, first_id: int, popsize: int):
        self.first_id, self.end_id, self.round = first_id, first_id + popsize, 0

    def __call__(self, genome_id: int, round_: int) -> bool:
        return genome_id < self.first_id or (genome_id < self.end_id and round_ < self.round)

    def before(self, genome_id: int, round_: int) -> bool:
        return genome_id < self.first_id


def evaluate_in_rounds(context: RunContext, generation: int, records: list[GenomeRecord]) -> dict[int, Evaluation]:
    """Every genome of the generation decided, in rounds; trials already archived are not run again."""
    book = context.book
    assert book is not None
    window = GenerationWindow(generation * context.popsize, context.popsize)
    plans = [context.open_plan(r, window, window.before) for r in records]
    done: dict[int, Evaluation] = {}
    with ExitStack() as stack:
        bar = task = None  # shown once a round has trials to run (a replayed generation has none)
        failed = 0
        while len(done) < len(plans):
            pending: dict[Trial, None] = {}
            for plan in plans:
                if plan.decision is None:
                    pending.update(dict.fromkeys(plan.advance(book, window.round)))
                    if plan.decision is not None:
                        done[plan.record.id] = context.finish(plan)
            if pending and bar is None:
                bar, task = stack.enter_context(_progress(context, generation))
            if bar is not None:
                bar.update(task, total=bar.tasks[0].completed + len(pending))
            for trial, outcome in context.evaluator.run([book.job(t) for t in pending]):
                failed += context.land(trial, outcome)
                bar.update(task, advance=1, failed=failed, best=context.best_text(),
                           rungs=rung_text(context, plans))
            window.round += 1
    return done


def rung_text(context: RunContext, plans: list[Plan]) -> str:
    """Trials asked for per rung by these plans, and their env-steps."""
    assert context.book is not None
    counts = Counter(t.rung for p in plans for t in p.requested)
    return ", ".join(f"rung {k} ({context.config.evaluation.rungs[k]:g}): {counts[k]} × "
                     f"{context.book.env_steps(k) / 1e6:.2g}M" for k in sorted(counts)) or "-"


def _progress(context: RunContext, generation: int) -> Bar:
    return Bar(context.console, f"generation {generation + 1}/{context.generations}",
               "{task.completed}/{task.total} trials, {task.fields[failed]} failed, {task.fields[rungs]}, best so far "
               "{task.fields[best]}", failed=0, best=context.best_text(), rungs="-")
