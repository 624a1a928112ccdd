"""A run in its directory: started or resumed, its searcher built from the config and handed to its
driver (generational or steady-state) with the run's evaluation services (drivers/context.py).

Resume without pickles: a run directory holds its resolved config, its archive and a checkpoint
(evolution/rundir.py). `resume` rebuilds the searcher by asking it again and telling it the results the
archive holds (searchers are deterministic given what they are told), checks the checkpointed generation
against its digest, then goes on; only what has no archived result is evaluated.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import yaml
from rich.console import Console

from evo_fastslow.archive import Archive
from evo_fastslow.console import make_console
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.cluster.evaluator import Evaluator, open_evaluator
from evo_fastslow.evolution.config import RunConfig
from evo_fastslow.evolution.drivers.context import RunContext
from evo_fastslow.evolution.drivers.generational import Generational
from evo_fastslow.evolution.drivers.retest import retest
from evo_fastslow.evolution.drivers.steady import SteadyState
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.inheritance import WEIGHTS_FOLDER, Inheritance
from evo_fastslow.evolution.plan import Plan, plan
from evo_fastslow.evolution.policy.trials import TrialBook
from evo_fastslow.evolution.rundir import (ARCHIVE_FILE, CONFIG_FILE, atomic_write, changed_fields, read_checkpoint,
                                          upgrade, value_at)
from evo_fastslow.evolution.searchers.base import SearchContext
from evo_fastslow.evolution.searchers.registry import provenance, searcher_class
from evo_fastslow.evolution.stats import GenerationStats
from evo_fastslow.evolution.tracking import Tracker, TrackingConfig, space_choices
from evo_fastslow.lifetime.fingerprint import differences
from evo_fastslow.weights import WeightStore

DRIVERS = {"generational": Generational, "steady": SteadyState}
MAY_CHANGE_ON_RESUME = ("generations", "cluster", "tracking", "reproducibility", "budget.ceiling_core_hours",
                        "budget.confirm", "evaluation.retest")  # a re-test happens after the search: add one later


class Run:
    """One evolution run in its directory."""

    def __init__(self, config: RunConfig, run_dir: Path, *, console: Console | None = None,
                 evaluate_fn: Callable[..., dict[str, Any]] = evaluate, yes: bool = False):
        self.config, self.run_dir, self.yes = config, Path(run_dir), yes
        self.console = console or make_console(stderr=True)
        self.evaluate_fn = evaluate_fn
        self.history: list[GenerationStats] = []
        self.context: RunContext | None = None  # the last start or resume's: its best so far, its fingerprint
        self.plan: Plan | None = None  # what the run will spend at most, told before any work
        self.tracker = Tracker(TrackingConfig(), self.run_dir, config.name, "")  # checked and set by start and resume

    def start(self) -> list[GenerationStats]:
        self.config = self.config.model_copy(update={"searcher": self.config.searcher.resolved(self.config)})
        self.tracker = self._tracker(str(self.run_dir / CONFIG_FILE))  # its paths checked before anything is made
        self.plan = self._plan(str(self.run_dir / CONFIG_FILE))
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise InputError(str(self.run_dir), "--out", "a directory for the run (this is a file)")
        if (self.run_dir / ARCHIVE_FILE).exists():
            raise InputError(str(self.run_dir), "--out", "a new run directory (this one holds a run: resume it)")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(str(self.run_dir), "--out", f"a directory that can be created ({err.strerror})") from None
        atomic_write(self.run_dir / CONFIG_FILE,
                     yaml.safe_dump(self.config.model_dump(by_alias=True), sort_keys=False))
        return self._loop(checkpoint=None)

    def resume(self) -> list[GenerationStats]:
        if not (self.run_dir / ARCHIVE_FILE).is_file():
            raise InputError(str(self.run_dir), ARCHIVE_FILE, "a run directory made by `evo-fastslow evolve`")
        self.tracker = self._tracker(str(self.run_dir / CONFIG_FILE))
        checkpoint = read_checkpoint(self.run_dir)
        with Archive(self.run_dir / ARCHIVE_FILE, create=False) as archive:
            archive.check()  # a damaged archive is refused, naming the table and row: never evolved on
            self._check_config(archive)
        self.plan = self._plan(str(self.run_dir / CONFIG_FILE))
        return self._loop(checkpoint)

    def _plan(self, config_path: str) -> Plan:
        """Told before any work: what the run will spend at most; above the ceiling, only when confirmed."""
        found = plan(self.config)
        self.console.print(f"plan: {found.text()}")
        budget = self.config.budget
        if found.core_hours is not None and found.core_hours > budget.ceiling_core_hours and budget.confirm \
                and not self.yes:
            raise InputError(config_path, "budget.ceiling_core_hours", f"a run planned within "
                             f"{budget.ceiling_core_hours:g} core-hours, not {found.core_hours:.3g} ({found.text()}): "
                             "start it with --yes (or budget.confirm: false), or make it smaller")
        return found

    def _tracker(self, config_path: str) -> Tracker:
        return Tracker(self.config.tracking or TrackingConfig(), self.run_dir, self.config.name, config_path,
                       space_choices(self.config.space()))

    def _loop(self, checkpoint: dict[str, Any] | None) -> list[GenerationStats]:
        config, config_path = self.config, str(self.run_dir / CONFIG_FILE)
        suites = config.fitness_suites()
        with Archive(self.run_dir / ARCHIVE_FILE) as archive:
            self._check_config(archive)
            self._check_searcher(archive)
            archive.set_meta("plan", self.plan.to_dict())
            seeded = config.seed_weights(config_path)
            if seeded and config.inheritance.mode == "darwinian":
                self.console.print(f"note: {len(seeded)} seed genomes carry weights; inheritance: darwinian starts "
                                   "every lifetime fresh (baldwinian or lamarckian would start from them)")
            inheritance = Inheritance(config.inheritance, config.seed, suites, archive,
                                      WeightStore(self.run_dir / WEIGHTS_FOLDER), seeded)
            book = None if config.evaluation.legacy else TrialBook(
                archive, config.evaluation, config.seed, suites, inheritance.keeps_final_weights)
            self.tracker.start(archive, json.loads(json.dumps(config.model_dump(by_alias=True))))
            finished = False
            try:
                with open_evaluator(config.cluster, suites, self.evaluate_fn, self.run_dir) as evaluator:
                    if evaluator.dashboard:
                        self.console.print(f"Dask dashboard: {evaluator.dashboard}")
                    self._check_plugins(evaluator, archive, suites)  # first: the fingerprints then record the plugins
                    self.context = RunContext(config, self.run_dir, archive, evaluator, inheritance, book,
                                              self.tracker, self.console, self._check_fingerprints(
                                                  evaluator.fingerprints(), archive), history=self.history)
                    searcher = self._searcher(suites, config_path)
                    try:
                        DRIVERS[searcher.style](self.context, searcher).run(checkpoint)
                        retest(self.context)
                        self.console.print(f"spent {self.context.env_steps_spent() / 1e6:,.4g}M env-steps of the "
                                           f"{self.plan.env_steps / 1e6:,.4g}M planned at most")
                    except ModuleNotFoundError as err:  # a package a searcher imports only when it samples
                        raise InputError(config_path, "searcher", f"the {err.name} package, which searcher "
                                         f"{config.searcher.name} needs (pip install {err.name}); then resume "
                                         "the run") from None
                finished = True
            finally:
                self.tracker.close(finished)
        return self.history

    def _searcher(self, suites: list[Any], config_path: str) -> Any:
        """The searcher the config names, given its settings and what it may know of the run."""
        config = self.config
        context = SearchContext(config.space(), config.population, config.generations, config.seed,
                                config.seed_genomes(config_path), suites)
        searcher = searcher_class(config.searcher.name)(config.searcher, context)
        if getattr(searcher, "style", None) not in DRIVERS:
            raise InputError(config_path, "searcher.name", f"a searcher whose style is one of {', '.join(DRIVERS)}")
        return searcher

    def _check_searcher(self, archive: Archive) -> None:
        """The searcher's class and versions are kept in the archive; a resume with other versions of a
        plug-in or wrapped library may propose otherwise: warned, or stopped when strict."""
        current, recorded = provenance(self.config.searcher.name), archive.meta("searcher")
        if recorded is None:
            archive.set_meta("searcher", current)
            return
        changed = [k for k in ("class", "version", "library") if recorded.get(k) != current.get(k)]
        if not changed:
            return
        problem = "; ".join(f"searcher {k} {recorded.get(k)!r} when the run started, {current.get(k)!r} now"
                            for k in changed)
        if self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir / CONFIG_FILE), "reproducibility: strict", "the searcher the run "
                             f"started with; {problem}")
        self.console.print(f"[yellow]warning:[/] {problem}: a resumed run may propose otherwise")

    def _check_config(self, archive: Archive) -> None:
        """A resumed run continues as it was configured: only `generations` (to extend it), `cluster`,
        `tracking`, `reproducibility` and the plan's ceiling may change; anything else would mix two
        experiments in one archive."""
        current = json.loads(json.dumps(self.config.model_dump(by_alias=True)))  # as JSON has it: lists
        recorded = archive.meta("config", kind=dict)
        if isinstance(recorded, dict):
            upgrade(recorded)
        if recorded is None:
            archive.set_meta("config", current)
            return
        changed = [key for key in changed_fields(recorded, current)
                   if not any(key == m or key.startswith(m + ".") for m in MAY_CHANGE_ON_RESUME)]
        if changed:
            raise InputError(str(self.run_dir / CONFIG_FILE), changed[0],
                             f"the value this run was started with ({value_at(recorded, changed[0])!r}): a resumed run "
                             "continues as configured; start a new run to change it")
        archive.set_meta("config", current)

    def _check_plugins(self, evaluator: Evaluator, archive: Archive, suites: list[Any]) -> None:
        """Every worker loads the run's plugins at the driver's versions before any evaluation
        (cluster/plugins.py); a version that differs is a warning, or an error when strict."""
        from evo_fastslow.evolution.cluster.plugins import check_workers

        problems = check_workers(evaluator, suites, self.config.space(), archive, str(self.run_dir))
        if problems and self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict", "; ".join(problems))
        for problem in problems:
            self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")

    def _check_fingerprints(self, workers: dict[str, dict[str, Any]], archive: Archive) -> str:
        """Before anything is evaluated: do the workers compute the same numbers as each other, and as
        the run did before (on resume)? `reproducibility: strict` makes a difference an error."""
        reference = archive.meta("fingerprint")
        if not workers:
            return ""  # no worker yet: each arriving evaluation is checked against the run's fingerprint
        digests = {f["digest"]: f for f in workers.values()}
        problems = []
        if len(digests) > 1:  # each worker against the most common fingerprint
            counts = Counter(f["digest"] for f in workers.values())
            common = max(sorted(workers.items()), key=lambda kv: counts[kv[1]["digest"]])
            problems += [f"worker {name} differs from {common[0]}: {differences(common[1], f)}"
                         for name, f in sorted(workers.items()) if f["digest"] != common[1]["digest"]]
        if reference is not None and reference["digest"] not in digests:
            current = next(iter(workers.values()))
            problems.append(f"this run was computed with another numeric fingerprint: {differences(reference, current)}")
        for details in digests.values():
            archive.add_fingerprint(details)
        if reference is None:
            archive.set_meta("fingerprint", next(iter(workers.values())))
        run_digest = (reference or next(iter(workers.values())))["digest"]
        if problems and self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict",
                             "workers that compute the same numbers as the run; " + "; ".join(problems))
        for problem in problems:
            self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")
        return run_digest
