"""Noise-aware, multi-fidelity selection: how much evidence a genome's fitness rests on.

One lifetime on one seed is a noisy draw (a reference genome's regret over five seeds: 3.4, 16.1, 3.0,
2.7, 3.7), and evolution keeps the luckiest draws. So an evaluation here is a set of **trials**
(genome, replicate r, rung k):
- replicate r's lifetime seed and task draws are the same for every genome of the run (a shared pool:
  common random numbers), so two genomes are compared on the same luck;
- rung k trains for the fraction `rungs[k]` of the lifetime budget; the last rung is the full budget.

A genome's **plan** (`plan_step`) decides which trials it needs next, as a pure function of its own
trials and a frozen **view** of the run's other trials (see `TrialBook.view`): which view is frozen
when is the driver's business (per generation and round, or by index under the lag rule), so the
decisions are the same on any number of workers and in any arrival order.
1. Successive halving (Jamieson and Talwalkar 2016; ASHA, Li et al. 2020): at each lower rung, a
   genome is promoted only if it passes the hurdle and ranks in the top 1/eta of that rung's scores
   in its view (itself included).
2. Racing at the full budget (after SMAC3's intensifier and irace): the genome meets the incumbents
   (the top K genomes of its view) only on replicates both have, in doubling steps 1, 2, 4, ... up to
   `max_replicates`; from `first_test` replicates on, a paired one-sided test against each incumbent
   stops it once it clearly loses (p < alpha). Incumbents that lack a replicate the race needs get it,
   so the best genomes gather evidence; a re-proposed genome (an elite) gains one replicate.
3. Without racing, either every genome at the full budget gets `max_replicates` at once, or (with
   `first_replicates`) it starts with that many and gains one each time it survives into a later
   generation (EvoTorch's GA re-evaluates its elites the same way), up to `max_replicates`: the
   cheapest way not to carry an elite on one lucky draw.
A genome's fitness is the mean over its replicates at the highest rung it reached, with n and a 95%
interval; searchers rank first by rung, then by that mean (`selection_value`).
4. A re-test (`retest`, evolution/drivers/retest.py): after the search, its top few genomes at the full
   budget get the same shared replicates, and the winner is named by those means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evo_fastslow.archive import Trial

RUNG_GAP = 1.0e6  # selection_value: a genome that stopped at a lower rung ranks below every one above it


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RacingConfig(_Strict):
    incumbents: int = Field(3, ge=1, description="K: a challenger races the top K genomes of its view")
    test: Literal["t", "wilcoxon", "mean"] = Field(
        "t", description="how a challenger loses on shared replicates: a paired one-sided test, Student's t or "
                         "Wilcoxon's signed rank (scipy), with p < alpha; or mean: its mean is lower, from the "
                         "first shared replicate on (SMAC3's intensifier)")
    alpha: float = Field(0.2, gt=0, lt=1, description="a challenger stops once it loses with p below this")
    first_test: int = Field(2, ge=2, description="replicates a challenger has before it can be stopped")


class RetestConfig(_Strict):
    top: int = Field(3, ge=2, le=100, description="the run's best genomes at the full budget (by mean) that are "
                                                  "re-tested before a winner is named")
    replicates: int = Field(5, ge=2, le=1000, description="shared replicates each of them has after the re-test "
                                                        "(the same seeds for all: a paired comparison)")


class EvaluationConfig(_Strict):
    seeds: Literal["shared", "per-generation"] = Field(
        "shared", description="shared: replicate r has the same seeds for every genome (common random numbers); "
                              "per-generation: one lifetime per genome on its generation's task draw (no racing, "
                              "no rungs: the evaluation of runs made before this section existed)")
    max_replicates: int = Field(3, ge=1, le=1000, description="the most replicates (full-budget lifetimes) a genome gets (at most 1,000)")
    first_replicates: int | None = Field(None, ge=1, le=1000, description="with racing: null, the replicates a genome "
                                         "gets when it first reaches the full budget; each time it survives "
                                         "into a later generation (an elite) it gains one, up to "
                                         "max_replicates (null: max_replicates at once). Not given: 1 without "
                                         "racing (replicates on survival), null with racing")
    racing: RacingConfig | None = Field(None, description="race challengers against the incumbents; "
                                        "null: every genome that reaches the full budget gets first_replicates")
    rungs: list[float] = Field([0.25, 1.0], min_length=1, description="lifetime budget fractions, increasing, "
                               "ending in 1.0: successive halving over them")
    reduction_factor: float = Field(3.0, gt=1, description="eta: the top 1/eta of a rung is promoted")
    hurdle: float | None = Field(None, description="a genome scoring below this at a lower rung is never promoted")
    retest: RetestConfig | None = Field(None, description="after the search, re-test the top few genomes on the same "
                                        "shared replicates and name the winner by those means (re-tested genomes "
                                        "rank first); null: the winner is the best mean as the search left it")

    @model_validator(mode="before")
    @classmethod
    def _replicates_on_survival_by_default(cls, data: Any) -> Any:
        """The default that measured best (benchmarks/results/selection-mid.txt): without racing, one
        replicate first and one more per survival, so that no elite is carried on one lucky draw."""
        if isinstance(data, dict) and "first_replicates" not in data and data.get("racing") is None \
                and data.get("seeds", "shared") == "shared" and data.get("max_replicates", 3) != 1:
            data = {**data, "first_replicates": 1}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "EvaluationConfig":
        if any(not 0 < f <= 1 for f in self.rungs) or list(self.rungs) != sorted(set(self.rungs)) \
                or self.rungs[-1] != 1.0:
            raise ValueError("evaluation.rungs: increasing budget fractions in (0, 1], the last one 1.0")
        if self.first_replicates is not None and (self.racing is not None
                                                  or self.first_replicates > self.max_replicates):
            raise ValueError("evaluation.first_replicates: with racing: null, at most max_replicates (a race "
                             "decides the replicates itself)")
        if self.seeds == "per-generation" and (self.max_replicates != 1 or self.racing is not None
                                               or list(self.rungs) != [1.0]):
            raise ValueError("evaluation.seeds: per-generation evaluates each genome once at the full budget: "
                             "it needs max_replicates: 1, racing: null, rungs: [1.0]")
        if self.retest is not None and self.seeds != "shared":
            raise ValueError("evaluation.retest: needs seeds: shared (a re-test compares genomes on the same "
                             "replicates)")
        return self

    @property
    def legacy(self) -> bool:
        return self.seeds == "per-generation"

    @property
    def top(self) -> int:
        return len(self.rungs) - 1


# what runs made before `evaluation:` existed did, and what their resolved configs are read as
LEGACY = {"seeds": "per-generation", "max_replicates": 1, "racing": None, "rungs": [1.0]}


Scores = dict[tuple[int, int], float]  # (rung, replicate) -> fitness of that trial


@dataclass(frozen=True)
class View:
    """What a plan may see of other genomes: their trials' scores, frozen by the driver."""
    scores: dict[str, Scores]        # subject -> its visible trials
    order: dict[str, int]            # subject -> the first genome id that had it (ties in rankings)

    def rung_scores(self, rung: int, besides: str) -> list[float]:
        return [s[(rung, 0)] for subject, s in self.scores.items() if subject != besides and (rung, 0) in s]

    def incumbents(self, top: int, count: int, besides: str) -> list[str]:
        """The top `count` subjects by mean at the full budget (ties: the older first)."""
        ranked = [(-mean_at(s, top), self.order.get(subject, 0), subject) for subject, s in self.scores.items()
                  if subject != besides and replicates_at(s, top)]
        return [subject for *_, subject in sorted(ranked)[:count]]


@dataclass(frozen=True)
class Decision:
    """A finished plan: the rung it reached and why it stopped there."""
    rung: int
    reason: str   # not promoted | raced out by genome <id> | max replicates | replicated on survival | failed


def replicates_at(scores: Scores, rung: int) -> list[int]:
    return sorted(r for k, r in scores if k == rung)


def mean_at(scores: Scores, rung: int) -> float:
    values = [scores[(rung, r)] for r in replicates_at(scores, rung)]
    return sum(values) / len(values)


def promoted(score: float, others: list[float], config: EvaluationConfig) -> bool:
    """ASHA's rule over the view: in the top ceil(n / eta) of the rung's scores (itself among the n)."""
    if config.hurdle is not None and score < config.hurdle:
        return False
    better = sum(other > score for other in others)
    return better < math.ceil((len(others) + 1) / config.reduction_factor)


def loses(challenger: list[float], incumbent: list[float], racing: RacingConfig) -> bool:
    """On shared replicates, is the challenger worse: a paired one-sided test with p < alpha, or (mean)
    a lower mean?"""
    from scipy import stats

    diffs = np.asarray(challenger, dtype=np.float64) - np.asarray(incumbent, dtype=np.float64)
    if racing.test == "mean":
        return bool(len(diffs) and diffs.mean() < 0)
    if len(diffs) < racing.first_test or diffs.mean() >= 0:
        return False
    if np.all(diffs == diffs[0]):  # no spread: a t statistic is undefined, the sign is certain
        return True
    if racing.test == "t":
        p = stats.ttest_1samp(diffs, 0.0, alternative="less").pvalue
    else:
        p = stats.wilcoxon(diffs, alternative="less", zero_method="zsplit").pvalue
    return bool(p < racing.alpha)


def plan_step(subject: str, own: Scores, view: View, config: EvaluationConfig, revisit: bool
              ) -> list[Trial] | Decision:
    """The trials `subject` needs next, or the decision once it needs none. Pure: the same own trials
    and view give the same answer. `own` holds the subject's trials (those in the view and those it ran);
    `revisit`: the subject was in the view already (re-proposed, an elite): it gains a replicate."""
    top = config.top
    if any(value <= FAILED for value in own.values()):
        return Decision(max(k for k, _ in own), "failed")
    for rung in range(top):
        if (top, 0) in own:
            break  # reached the full budget before (a revisit): the lower rungs are behind it
        if (rung, 0) not in own:
            return [Trial(subject, rung, 0)]
        if not promoted(own[(rung, 0)], view.rung_scores(rung, subject), config):
            return Decision(rung, "not promoted")
    have = len(replicates_at(view.scores.get(subject, {}), top))
    base = min(config.max_replicates, have + 1 if revisit and have else config.first_replicates or 1)
    needed = [Trial(subject, top, r) for r in range(base) if (top, r) not in own]
    if needed:
        return needed
    if config.racing is None and config.first_replicates is not None:
        return Decision(top, "replicated on survival")  # an elite gains a replicate when re-proposed
    return _race(subject, own, view, config)


def _race(subject: str, own: Scores, view: View, config: EvaluationConfig) -> list[Trial] | Decision:
    top, racing = config.top, config.racing
    n = len(replicates_at(own, top))
    if racing is None:
        more = [Trial(subject, top, r) for r in range(n, config.max_replicates)]
        return more or Decision(top, "max replicates")
    incumbents = view.incumbents(top, racing.incumbents, subject)
    for incumbent in incumbents:
        theirs = view.scores[incumbent]
        shared = [r for r in replicates_at(own, top) if (top, r) in theirs]
        if loses([own[(top, r)] for r in shared], [theirs[(top, r)] for r in shared], racing):
            return Decision(top, f"raced out by genome {view.order.get(incumbent, '?')}")
    if n >= config.max_replicates:
        return Decision(top, "max replicates")
    # doubling: 1, 2, 4, ...; with no incumbent to lose to, nothing can stop it: all at once
    step = min(2 * n, config.max_replicates) if incumbents else config.max_replicates
    trials = [Trial(subject, top, r) for r in range(n, step)]
    for incumbent in incumbents:  # the race is run on replicates both have
        trials += [Trial(incumbent, top, r) for r in range(step) if (top, r) not in view.scores[incumbent]]
    return trials


FAILED = -1.0e8  # a trial scoring at or below this failed (evaluate's worst fitness is -1e9)


def level(rung: int, decision: str, config: EvaluationConfig) -> int:
    """How far a genome got: 2 per rung, and one more unless a race stopped it (it lost to an incumbent
    on shared replicates, so its mean over fewer replicates must not outrank the survivors')."""
    return 2 * rung + (not decision.startswith("raced out"))


def selection_value(fitness: float, rung: int, config: EvaluationConfig, decision: str = "") -> float:
    """What a searcher is told: by level first (rung, then survival of the race), then by the mean;
    failures stay the worst of all."""
    if fitness <= FAILED:
        return fitness
    return fitness - (level(config.top, "", config) - level(rung, decision, config)) * RUNG_GAP
