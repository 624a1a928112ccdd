"""The generation loop: the searcher proposes, the evaluator runs lifetimes, the archive keeps everything.

Resume without pickles: a run directory holds its resolved config, its archive and a checkpoint
(the last finished generation and a digest of it). `resume` rebuilds the searcher by replaying the
finished generations with the fitnesses the archive holds (searchers are deterministic given their
fitnesses), checks each replayed generation against the archive, then goes on; in the generation
that was in flight, only the genomes without an archived evaluation are evaluated.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import yaml
from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.console import LogProgress, make_console
from evo_fastslow.evolution.cluster import Evaluator, Job, open_evaluator
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.config import RunConfig, load_plugin_cores, validate_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.inheritance import WEIGHTS_FOLDER, Inheritance
from evo_fastslow.evolution.aging import AgingEvolution
from evo_fastslow.evolution.qd import MapElites
from evo_fastslow.evolution.searchers import Candidate, make_searcher
from evo_fastslow.evolution.selection import LEGACY, selection_value
from evo_fastslow.evolution.rounds import evaluate_generation
from evo_fastslow.evolution.trials import TrialBook
from evo_fastslow.evolution.stats import GenerationStats, generation_stats
from evo_fastslow.evolution.steady import SteadyState
from evo_fastslow.evolution.tracking import Tracker, TrackingConfig
from evo_fastslow.lifetime import expected_cost
from evo_fastslow.numerics.fingerprint import differences
from evo_fastslow.seeds import derive_seed
from evo_fastslow.weights import WeightStore

CONFIG_FILE, ARCHIVE_FILE, CHECKPOINT_FILE = "config.yaml", "archive.sqlite", "checkpoint.json"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _digest(records: list[GenomeRecord], fitnesses: list[float]) -> str:
    payload = [(r.id, r.genes, r.origin, r.parents, f) for r, f in zip(records, fitnesses)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise InputError(str(run_dir), CONFIG_FILE, "a run directory made by `evo-fastslow evolve`")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(str(path), "YAML", f"the run's resolved config, valid YAML ({type(err).__name__})") from None
    if isinstance(data, dict):
        data.setdefault("evaluation", LEGACY)  # made before `evaluation:` existed: one lifetime per genome
        load_plugin_cores(data, str(path))
    return validate_config(data, str(path))


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two config dumps differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [path for key in sorted(set(old) | set(new), key=str)
                for path in _changed_fields(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def _at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def read_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The last finished generation and its digest, or None before the first one finished."""
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        checkpoint = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(str(path), "JSON", "a checkpoint written by evo-fastslow (delete it to replay "
                         "from the archive's first generation)") from None
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("generation"), int)
            and checkpoint["generation"] >= 0 and isinstance(checkpoint.get("digest"), str)):
        raise InputError(str(path), "generation, digest", "a non-negative integer and a digest string")
    return checkpoint


class Run:
    """One evolution run in its directory."""

    def __init__(self, config: RunConfig, run_dir: Path, *, console: Console | None = None,
                 evaluate_fn: Callable[..., dict[str, Any]] = evaluate):
        self.config, self.run_dir = config, Path(run_dir)
        self.console = console or make_console(stderr=True)
        self.evaluate_fn = evaluate_fn
        self.popsize = config.population
        self.history: list[GenerationStats] = []
        self.suites = config.fitness_suites()
        self.inheritance: Inheritance | None = None  # set once the archive is open
        self.fingerprint = ""            # the run's numeric fingerprint digest
        self._warned: set[str] = set()   # other digests already warned about
        self.best_so_far: Evaluation | None = None  # the best successful evaluation so far, for progress bars
        self.book: TrialBook | None = None  # the run's trials, unless it evaluates one lifetime per genome
        self.tracker = Tracker(TrackingConfig(), self.run_dir, config.name, "")  # checked and set by start and resume

    def id_of(self, generation: int, index: int) -> int:
        return generation * self.popsize + index

    def start(self) -> list[GenerationStats]:
        self.tracker = self._tracker(str(self.run_dir / CONFIG_FILE))  # its paths checked before anything is made
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise InputError(str(self.run_dir), "--out", "a directory for the run (this is a file)")
        if (self.run_dir / ARCHIVE_FILE).exists():
            raise InputError(str(self.run_dir), "--out", "a new run directory (this one holds a run: resume it)")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(str(self.run_dir), "--out", f"a directory that can be created ({err.strerror})") from None
        _atomic_write(self.run_dir / CONFIG_FILE,
                      yaml.safe_dump(self.config.model_dump(by_alias=True), sort_keys=False))
        return self._loop(checkpoint=None)

    def resume(self) -> list[GenerationStats]:
        if not (self.run_dir / ARCHIVE_FILE).is_file():
            raise InputError(str(self.run_dir), ARCHIVE_FILE, "a run directory made by `evo-fastslow evolve`")
        self.tracker = self._tracker(str(self.run_dir / CONFIG_FILE))
        return self._loop(read_checkpoint(self.run_dir))

    def _tracker(self, config_path: str) -> Tracker:
        return Tracker(self.config.tracking or TrackingConfig(), self.run_dir, self.config.name, config_path)

    def _loop(self, checkpoint: dict[str, Any] | None) -> list[GenerationStats]:
        config = self.config
        space, suites = config.space(), self.suites
        seeds = config.seed_genomes(str(self.run_dir / CONFIG_FILE))
        with Archive(self.run_dir / ARCHIVE_FILE) as archive:
            self._check_config(archive)
            self.best_so_far = None
            for evaluation in archive.evaluations().values():
                self.note_best(evaluation)
            seeded = config.seed_weights(str(self.run_dir / CONFIG_FILE))
            if seeded and config.inheritance.mode == "darwinian":
                self.console.print(f"note: {len(seeded)} seed genomes carry weights; inheritance: darwinian starts "
                                   "every lifetime fresh (baldwinian or lamarckian would start from them)")
            self.inheritance = Inheritance(config.inheritance, config.seed, suites, archive,
                                           WeightStore(self.run_dir / WEIGHTS_FOLDER), seeded)
            self.book = None if config.evaluation.legacy else TrialBook(
                archive, config.evaluation, config.seed, suites, self.inheritance.keeps_final_weights)
            self.tracker.start(archive, json.loads(json.dumps(config.model_dump(by_alias=True))))
            finished = False
            try:
                self._run_searcher(archive, space, seeds, checkpoint)
                finished = True
            finally:
                self.tracker.close(finished)
        return self.history

    def _run_searcher(self, archive: Archive, space: Any, seeds: list[Any], checkpoint: dict[str, Any] | None
                      ) -> None:
        config, suites = self.config, self.suites
        with open_evaluator(config.cluster, suites, self.evaluate_fn, self.run_dir) as evaluator:
            if evaluator.dashboard:
                self.console.print(f"Dask dashboard: {evaluator.dashboard}")
            self._check_plugins(evaluator, archive)  # first: the fingerprints then record the plugins loaded
            self._check_fingerprints(evaluator.fingerprints(), archive)
            if config.searcher.name in ("aging", "map-elites"):
                kind = AgingEvolution if config.searcher.name == "aging" else MapElites
                searcher = kind(space, config.searcher, self.popsize, config.seed, seeds)
                SteadyState(self, searcher, archive, evaluator).run(checkpoint)
            else:
                searcher = make_searcher(space, config.searcher, self.popsize, config.seed, seeds, self.id_of, suites)
                self._evolve(searcher, archive, evaluator, checkpoint)

    def _check_config(self, archive: Archive) -> None:
        """A resumed run continues as it was configured: only `generations` (to extend it), `cluster`,
        `tracking` and `reproducibility` may change; anything else would mix two experiments in one archive."""
        current = json.loads(json.dumps(self.config.model_dump(by_alias=True)))  # as JSON has it: lists
        recorded = archive.meta("config")
        if isinstance(recorded, dict):
            recorded.setdefault("evaluation", LEGACY)
        if recorded is None:
            archive.set_meta("config", current)
            return
        changed = [key for key in _changed_fields(recorded, current)
                   if key.split(".")[0] not in ("generations", "cluster", "tracking", "reproducibility")]
        if changed:
            raise InputError(str(self.run_dir / CONFIG_FILE), changed[0],
                             f"the value this run was started with ({_at(recorded, changed[0])!r}): a resumed run "
                             "continues as configured; start a new run to change it")
        archive.set_meta("config", current)

    def _evolve(self, searcher: Any, archive: Archive, evaluator: Evaluator, checkpoint: dict[str, Any] | None
                ) -> None:
        replay_until = checkpoint["generation"] if checkpoint else -1
        started = time.perf_counter()
        for generation in range(self.config.generations):
            stats = self._generation(generation, searcher, archive, evaluator,
                                     checkpoint if generation <= replay_until else None)
            if generation > replay_until:
                self.finish_generation(stats, archive, started)

    def _check_plugins(self, evaluator: Evaluator, archive: Archive) -> None:
        """Every worker loads the run's plugins at the driver's versions before any evaluation
        (plugins.check_workers); a version that differs is a warning, or an error when strict."""
        from evo_fastslow.plugins import check_workers

        problems = check_workers(evaluator, self.suites, self.config.space(), archive, str(self.run_dir))
        if problems and self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict", "; ".join(problems))
        for problem in problems:
            self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")

    def _check_fingerprints(self, workers: dict[str, dict[str, Any]], archive: Archive) -> None:
        """Before anything is evaluated: do the workers compute the same numbers as each other, and as
        the run did before (on resume)? `reproducibility: strict` makes a difference an error."""
        reference = archive.meta("fingerprint")
        if not workers:
            return  # no worker yet: each arriving evaluation is checked against the run's fingerprint
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
        self.fingerprint = (reference or next(iter(workers.values())))["digest"]
        if not problems:
            return
        if self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict",
                             "workers that compute the same numbers as the run; " + "; ".join(problems))
        for problem in problems:
            self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")

    def _generation(self, generation: int, searcher: Any, archive: Archive, evaluator: Evaluator,
                    replayed: dict[str, Any] | None) -> GenerationStats:
        start = time.perf_counter()
        result: dict[str, Any] = {}

        def evaluate_batch(candidates: list[Candidate]) -> list[float]:
            records = [GenomeRecord(self.id_of(generation, i), generation, i, dict(c.genome.genes), c.origin,
                                    list(c.parents)) for i, c in enumerate(candidates)]
            archive.add_genomes(records)
            outcomes = self._evaluate(generation, records, archive, evaluator)
            result.update(records=records, outcomes=outcomes)
            return [self.value(outcomes[r.id]) for r in records]

        searcher.step(generation, evaluate_batch)
        records, outcomes = result["records"], result["outcomes"]
        fitnesses = [outcomes[r.id].fitness for r in records]
        digest = _digest(records, fitnesses)
        if replayed is not None and generation == replayed["generation"] and digest != replayed["digest"]:
            raise InputError(str(self.run_dir), CHECKPOINT_FILE,
                             f"a checkpoint that the archive reproduces: generation {generation} replays "
                             "differently (the searcher's code or the config changed since)")
        return generation_stats(generation, records, outcomes, time.perf_counter() - start)

    def _evaluate(self, generation: int, records: list[GenomeRecord], archive: Archive,
                  evaluator: Evaluator) -> dict[int, Evaluation]:
        """Archived evaluations are reused; the rest run, each committed the moment it arrives."""
        if self.book is not None:
            return evaluate_generation(self, generation, records, archive, evaluator)
        done = archive.evaluations([r.id for r in records])
        jobs = [self.job(r) for r in records if r.id not in done]
        if not jobs:
            return done
        failed = 0
        with LogProgress(TextColumn(f"generation {generation + 1}/{self.config.generations}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} done, {task.fields[failed]} failed, "
                                 "{task.fields[running]} running, best so far {task.fields[best]}"),
                      TimeElapsedColumn(), console=self.console, transient=True, refresh_per_second=2) as bar:
            task = bar.add_task("evaluations", total=len(jobs), failed=0,
                                running=min(len(jobs), evaluator.workers), best=self.best_text())
            for count, (key, outcome) in enumerate(evaluator.run(jobs), start=1):
                evaluation = done[key] = self.archive_outcome(archive, key, outcome)
                failed += evaluation.status != "ok"
                bar.update(task, completed=count, failed=failed,
                           running=min(len(jobs) - count, evaluator.workers), best=self.best_text())
        return done

    def archive_outcome(self, archive: Archive, key: int, outcome: dict[str, Any]) -> Evaluation:
        """Check and archive an outcome; its end-of-lifetime weights (lamarckian) are stored first, so an
        archived evaluation always has them."""
        weights = outcome.pop("weights", None)
        evaluation = Evaluation(genome_id=key, **outcome)
        self.check_evaluation(evaluation)
        if weights is not None and self.inheritance is not None:
            self.inheritance.record_final(key, weights)
        archive.add_evaluation(evaluation)
        self.note_best(evaluation)
        return evaluation

    def note_best(self, evaluation: Evaluation) -> None:
        if evaluation.status == "ok" and (self.best_so_far is None
                                          or self.value(evaluation) > self.value(self.best_so_far)):
            self.best_so_far = evaluation

    def value(self, evaluation: Evaluation) -> float:
        """What the searcher is told: the fitness, ranked by budget rung first (evolution/selection.py)."""
        return selection_value(evaluation.fitness, evaluation.rung, self.config.evaluation, evaluation.decision)

    def best_text(self) -> str:
        """The best fitness so far with its evidence: '0.812 [0.78, 0.84] n=4'."""
        best = self.best_so_far
        if best is None:
            return "-"
        if best.replicates < 2:
            return f"{best.fitness:.3f}"
        return f"{best.fitness:.3f} [{best.ci_low:.3f}, {best.ci_high:.3f}] n={best.replicates}"

    def check_evaluation(self, evaluation: Evaluation) -> None:
        self.check_fingerprint(evaluation.fingerprint, evaluation.worker, f"genome {evaluation.genome_id}")

    def check_fingerprint(self, digest: str, worker: str, what: str, detail: str = "") -> None:
        """A worker that joined later with another fingerprint: warn once (strict: stop, nothing archived)."""
        if digest and not self.fingerprint:  # no worker had joined at the start (adaptive): the first sets it
            self.fingerprint = digest
        if not digest or digest == self.fingerprint or digest in self._warned:
            return
        problem = (f"{what} was computed by {worker or 'a worker'} with numeric "
                   f"fingerprint {digest}, the run's is {self.fingerprint}{detail}")
        if self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict", "one numeric fingerprint; " + problem)
        self._warned.add(digest)
        self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")

    def job(self, record: GenomeRecord) -> Job:
        """The evaluation of a genome: its lifetime seed, and its generation's task draw (common random numbers)."""
        seed = derive_seed(self.config.seed, "lifetime", record.generation, record.idx)
        weights, weights_hash = self.inheritance.prepare(record, seed) if self.inheritance else (None, "")
        keep = bool(self.inheritance and self.inheritance.keeps_final_weights)
        return Job(record.id, record.genes, seed, derive_seed(self.config.seed, "tasks", record.generation),
                   cost=sum(expected_cost(record.genes, s) for s in self.suites), weights=weights,
                   weights_hash=weights_hash, keep_weights=keep)

    def finish_generation(self, stats: GenerationStats, archive: Archive, started: float) -> None:
        archive.end_generation(stats.generation, stats.best, stats.mean, stats.best_id, stats.evaluations,
                               stats.failures, stats.wall_seconds)
        records = archive.genomes(stats.generation)
        evaluations = archive.evaluations([r.id for r in records])
        digest = _digest(records, [evaluations[r.id].fitness for r in records])
        _atomic_write(self.run_dir / CHECKPOINT_FILE, json.dumps(
            {"generation": stats.generation, "digest": digest, "searcher": self.config.searcher.name}))
        self.history.append(stats)
        self.tracker.generation(stats, archive, records, evaluations, self.env_steps_spent(archive))
        best = evaluations.get(stats.best_id) or archive.evaluations([stats.best_id]).get(stats.best_id)
        evidence = (f" [{best.ci_low:.3f}, {best.ci_high:.3f}] n={best.replicates}"
                    if best is not None and best.replicates > 1 else "")
        spent = self.spent_text(archive)
        found = (f"best {stats.best:.3f}{evidence} (genome {stats.best_id}), mean {stats.mean:.3f}"
                 if stats.failures < stats.evaluations else "no evaluation succeeded")
        self.console.print(
            f"generation {stats.generation + 1}/{self.config.generations}: {found}, {stats.failures} failed, "
            f"{spent}{stats.wall_seconds:.1f} s, elapsed {time.perf_counter() - started:.0f} s")

    def env_steps_spent(self, archive: Archive) -> int:
        """Env-steps of every lifetime so far (trials; or one full lifetime per evaluation)."""
        if self.book is not None:
            return int(archive.spending().get("env_steps", 0))
        full = sum(s.lifetime.train_env_steps for s in self.suites)
        return full * len(archive.evaluations())

    def spent_text(self, archive: Archive) -> str:
        """Trials and env-steps so far, per rung: 'trials 12 + 30, 1.2M env-steps (of 4.0M at full budget), '."""
        if self.book is None:
            return ""
        spent = archive.spending()
        if not spent:
            return ""
        full = sum(s.lifetime.train_env_steps for s in self.suites) * spent["genomes"]
        return (f"trials {' + '.join(str(n) for n in spent['trials'])}, {spent['env_steps'] / 1e6:.3g}M env-steps "
                f"(one full lifetime each: {full / 1e6:.3g}M), ")
