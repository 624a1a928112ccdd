"""Trials for the generational driver: a generation's plans advance in rounds.

Round t of generation g: every plan still deciding asks for the trials it needs, seeing the trials first
asked for by earlier generations and by this generation's rounds before t (all finished: a round ends
when its trials are in). So promotion compares a genome with its whole generation's rung, and what
each plan decides does not depend on the order trials arrive in. The helpers here (plans, landing a
trial, finishing a genome) serve the steady-state driver too.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Callable

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.console import LogProgress
from evo_fastslow.evolution.cluster import Evaluator
from evo_fastslow.evolution.selection import Trial
from evo_fastslow.evolution.trials import Plan
from evo_fastslow.seeds import derive_seed

if TYPE_CHECKING:
    from evo_fastslow.evolution.loop import Run


class GenerationWindow:
    """Visibility in generation g, round t: first asked for before the generation, or in it before round t."""

    def __init__(self, first_id: int, popsize: int):
        self.first_id, self.end_id, self.round = first_id, first_id + popsize, 0

    def __call__(self, genome_id: int, round_: int) -> bool:
        return genome_id < self.first_id or (genome_id < self.end_id and round_ < self.round)

    def before(self, genome_id: int, round_: int) -> bool:
        return genome_id < self.first_id


def open_plan(run: "Run", record: GenomeRecord, visible: Callable[[int, int], bool],
              seen: Callable[[int, int], bool]) -> Plan:
    """The plan of `record`: its subject (genes and the initial weights inheritance gives it) registered;
    `seen` tells which trials count as its own earlier evidence (a re-proposed genome gains a replicate)."""
    assert run.book is not None and run.inheritance is not None
    seed = derive_seed(run.config.seed, "lifetime", record.generation, record.idx)
    weights, weights_hash = run.inheritance.prepare(record, seed)
    subject = run.book.register(record, weights, weights_hash)
    revisit = subject in run.book.view(seen).scores
    return Plan(record, subject, visible, revisit)


def land(run: "Run", trial: Trial, outcome: dict[str, Any]) -> bool:
    """Check and archive a trial's outcome (its end-of-lifetime weights first); True if it failed."""
    assert run.book is not None and run.inheritance is not None
    weights = outcome.pop("weights", None)
    run.check_fingerprint(outcome.get("fingerprint", ""), outcome.get("worker", ""),
                          f"genome {run.book.first[trial][0]}", f" (a trial at rung {trial.rung}, replicate "
                          f"{trial.replicate})")
    final = run.inheritance.store.put(weights) if weights is not None else ""
    run.book.record(trial, outcome, final)
    return outcome["status"] != "ok"


def finish(run: "Run", plan: Plan, archive: Archive) -> Evaluation:
    """Archive a decided genome's evaluation (lamarckian: with the weights its replicate 0 ended with)."""
    assert run.book is not None and run.inheritance is not None
    evaluation = plan.evaluation(run.book)
    if run.inheritance.keeps_final_weights and evaluation.status == "ok" and plan.final_weights(run.book):
        archive.set_final_weights(plan.record.id, plan.final_weights(run.book))
    archive.add_evaluation(evaluation)
    run.note_best(evaluation)
    return evaluation


def evaluate_generation(run: "Run", generation: int, records: list[GenomeRecord], archive: Archive,
                        evaluator: Evaluator) -> dict[int, Evaluation]:
    """Every genome of the generation decided, in rounds; trials already archived are not run again."""
    assert run.book is not None
    window = GenerationWindow(run.id_of(generation, 0), run.popsize)
    plans = [open_plan(run, r, window, window.before) for r in records]
    done: dict[int, Evaluation] = {}
    with ExitStack() as stack:
        bar = task = None  # shown once a round has trials to run (a replayed generation has none)
        failed = 0
        while len(done) < len(plans):
            pending: dict[Trial, None] = {}
            for plan in plans:
                if plan.decision is None:
                    pending.update(dict.fromkeys(plan.advance(run.book, window.round)))
                    if plan.decision is not None:
                        done[plan.record.id] = finish(run, plan, archive)
            if pending and bar is None:
                bar, task = stack.enter_context(_progress(run, generation))
            if bar is not None:
                bar.update(task, total=bar.tasks[0].completed + len(pending))
            for trial, outcome in evaluator.run([run.book.job(t) for t in pending]):
                failed += land(run, trial, outcome)
                bar.update(task, advance=1, failed=failed, best=run.best_text(), rungs=rung_text(run, plans))
            window.round += 1
    return done


def rung_text(run: "Run", plans: list[Plan]) -> str:
    """Trials asked for per rung by these plans, and their env-steps."""
    assert run.book is not None
    counts = Counter(t.rung for p in plans for t in p.requested)
    return ", ".join(f"rung {k} ({run.config.evaluation.rungs[k]:g}): {counts[k]} × "
                     f"{run.book.env_steps(k) / 1e6:.2g}M" for k in sorted(counts)) or "-"


def _progress(run: "Run", generation: int) -> Any:
    from evo_fastslow.evolution.steady import _Bar

    progress = LogProgress(TextColumn(f"generation {generation + 1}/{run.config.generations}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total} trials, {task.fields[failed]} failed, "
                                   "{task.fields[rungs]}, best so far {task.fields[best]}"),
                        TimeElapsedColumn(), console=run.console, transient=True, refresh_per_second=2)
    return _Bar(progress, 0, 0, 0, run.best_text(), rungs="-")
