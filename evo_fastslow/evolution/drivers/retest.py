"""The re-test before a run names its winner (`evaluation.retest`).

The best mean of a search is the luckiest of many noisy draws (its optimism); racing and replicates on
survival shrink that, but the top few genomes still rest on different numbers of lifetimes. So, after the
search, the `top` best genomes at the full budget (in the order the search left them) each get
`replicates` lifetimes on the same shared replicates (common random numbers: a paired comparison), and
the archive ranks them first, by those means (`Archive.ranked`): the winner is named on equal evidence.

Which genomes are re-tested is a function of the archive as the search left it, and a trial's outcome of
its subject, rung and replicate only, so the re-test is the same on any number of workers, in any arrival
order, resumed or not; trials the search ran already are reused, not run again.
"""

from __future__ import annotations

from evo_fastslow.archive import GenomeRecord, Trial
from evo_fastslow.evolution.drivers.context import RunContext
from evo_fastslow.evolution.drivers.progress import Bar
from evo_fastslow.evolution.policy.trials import evaluation_of


def retest(context: RunContext) -> None:
    """Re-test the run's top genomes (nothing to do without `evaluation.retest` or trials)."""
    settings, book, archive = context.config.evaluation.retest, context.book, context.archive
    if settings is None or book is None:
        return
    top, generations = context.config.evaluation.top, context.generations
    chosen = retested_genomes(context, settings.top)
    subjects = [context.subject(record) for record in chosen]
    pending = []
    for record, subject in zip(chosen, subjects):
        for r in range(settings.replicates):
            book.request(Trial(subject, top, r), record.id)
            if Trial(subject, top, r) not in book.outcomes:
                pending.append(Trial(subject, top, r))
    if pending:
        failed = 0
        with Bar(context.console, f"re-test of the top {len(chosen)}", "{task.completed}/{task.total} lifetimes, "
                 "{task.fields[failed]} failed", total=len(pending), failed=0) as (bar, task):
            for trial, outcome in context.evaluator.run([book.job(t) for t in pending]):
                failed += context.land(trial, outcome)
                bar.update(task, advance=1, failed=failed)
    found = []
    for rank, (record, subject) in enumerate(zip(chosen, subjects)):
        outcomes = [book.outcomes[Trial(subject, top, r)] for r in range(settings.replicates)]
        evaluation = evaluation_of(record.id, outcomes, top, f"re-tested on {settings.replicates} shared replicates")
        archive.add_retest(generations, rank, evaluation)
        found.append(evaluation)
    if found:
        named = archive.ranked(1)[0][0]
        context.console.print("re-tested the top {} on {} shared replicates: {}; named genome {}".format(
            len(found), settings.replicates, ", ".join(
                f"genome {e.genome_id} {e.fitness:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]" if e.status == "ok"
                else f"genome {e.genome_id} {e.status}" for e in found), named.id))


def retested_genomes(context: RunContext, count: int) -> list[GenomeRecord]:
    """The `count` best genomes at the full budget as the search left them (an earlier re-test aside)."""
    top = context.config.evaluation.top
    chosen = []
    for record, evaluation in context.archive.ranked(through_generation=context.generations - 1, retested=False):
        if evaluation.status == "ok" and evaluation.rung == top:
            chosen.append(record)
            if len(chosen) == count:
                break
    return chosen
