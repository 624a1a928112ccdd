"""The Python API: what the CLI does, as functions that return data (for notebooks and scripts).

    import evo_fastslow as ef
    run = ef.evolve("configs/quickstart.yaml", overrides={"generations": 2})
    run.evaluations()                 # a pandas DataFrame, the columns of `evo-fastslow export`
    run.top(3)                        # the best distinct genomes, best first
    report = run.validate(top=1, seeds=8)

Long calls show the CLI's progress (live bars in a terminal or a notebook, plain lines in a log).
Everything here is synchronous: Dask's client runs its event loop in a thread of its own, so the
calls work inside Jupyter's running loop as in a script. Errors in what the user wrote are
`InputError`s naming the file and field, as on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from evo_fastslow.errors import InputError, output_dir, run_directory

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from evo_fastslow.evolution.config import RunConfig

Overrides = Mapping[str, Any] | Sequence[str]


@dataclass(frozen=True)
class GenomeInfo:
    """One evaluated genome of a run: its genes and what evolution measured."""
    genome_id: int
    generation: int
    origin: str
    parents: list[int]
    genes: dict[str, Any]
    status: str
    fitness: float
    replicates: int
    ci_low: float
    ci_high: float
    rung: int
    decision: str


def _override_list(overrides: Overrides | None) -> list[str]:
    """{"budget.train_env_steps": 8000} or ["budget.train_env_steps=8000"] -> CLI-style assignments."""
    import json

    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(overrides, str):
        raise InputError("overrides", "value", "a mapping {key.path: value} or a list of 'key.path=value'")
    return list(overrides)


def load(config: str | Path, overrides: Overrides | None = None) -> "RunConfig":
    """A run config read and checked, with overrides applied (the CLI's `--set`)."""
    from evo_fastslow.evolution.config import load_config

    return load_config(config, _override_list(overrides))


def evolve(config: "str | Path | RunConfig", overrides: Overrides | None = None, run_dir: str | Path | None = None,
           console: "Console | None" = None, yes: bool = False) -> "Run":
    """Run an evolution to its end and return the finished run (the CLI's `evolve`). `run_dir` defaults
    to runs/NAME-seedN, and must not hold a run already (use `resume`). `yes`: start even if the plan
    exceeds `budget.ceiling_core_hours` (`plan(config)` tells it beforehand)."""
    from evo_fastslow.evolution.config import RunConfig
    from evo_fastslow.evolution.loop import Run as Driver

    if isinstance(config, RunConfig):
        if overrides:
            raise InputError("overrides", "value", "none with a loaded RunConfig (pass the config's path instead)")
        resolved = config
    else:
        resolved = load(config, overrides)
    out = (output_dir(run_dir, "a directory for the run", (str(run_dir) or '""', "run_dir")) if run_dir is not None
           else Path("runs") / f"{resolved.name}-seed{resolved.seed}")
    Driver(resolved, out, console=console, yes=yes).start()
    return Run(out)


def resume(run_dir: str | Path, console: "Console | None" = None, yes: bool = False) -> "Run":
    """Go on with an interrupted run (a finished one only replays); the same archive as an uninterrupted run."""
    from evo_fastslow.evolution.loop import Run as Driver
    from evo_fastslow.evolution.rundir import read_run_config

    found = run_directory(run_dir, "run_dir")
    Driver(read_run_config(found), found, console=console, yes=yes).resume()
    return Run(found)


def plan(config: "str | Path | RunConfig", overrides: Overrides | None = None) -> dict[str, Any]:
    """What a run would spend at most before it starts: lifetimes, env-steps, core-hours on this machine."""
    from evo_fastslow.evolution.config import RunConfig
    from evo_fastslow.evolution.plan import plan as planned

    return planned(config if isinstance(config, RunConfig) else load(config, overrides)).to_dict()


def open_run(run_dir: str | Path) -> "Run":
    """A run directory, to read (nothing is evaluated)."""
    return Run(run_directory(run_dir, "run_dir"))


class Run:
    """A run directory: its config, its archive as data, and the analyses the CLI prints."""

    def __init__(self, run_dir: str | Path):
        from evo_fastslow.evolution.rundir import read_run_config

        self.dir = Path(run_dir)
        self.config = read_run_config(self.dir)

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    def _archive(self) -> Any:
        from evo_fastslow.archive import Archive

        return Archive(self.dir / "archive.sqlite", create=False)

    @property
    def plan(self) -> dict[str, Any] | None:
        """What the run was planned to spend at most when it started (lifetimes, env-steps, core-hours on the
        machine that ran it), and what it spent: {..., "spent_env_steps"}; None for runs made before plans."""
        with self._archive() as archive:
            planned = archive.meta("plan")
            return None if planned is None else {**planned, "spent_env_steps": int(archive.spending().get(
                "env_steps", 0))}

    def evaluations(self) -> "pd.DataFrame":
        """One row per genome and its evaluation, genes as `gene.*` columns: `evo-fastslow export`'s table."""
        from evo_fastslow.analysis.export import evaluations_frame

        with self._archive() as archive:
            return evaluations_frame(archive)

    def replicates(self) -> "pd.DataFrame":
        """One row per replicate lifetime `validate` or `ablate` ran for this run (export's second table)."""
        from evo_fastslow.analysis.export import replicates_frame

        with self._archive() as archive:
            return replicates_frame(archive)

    def generations(self) -> "pd.DataFrame":
        """Per generation (or epoch): the archive's `generations` table (best and mean fitness, the best
        genome's id, evaluations, failures, ...)."""
        import pandas as pd

        with self._archive() as archive:
            cursor = archive.db.execute("SELECT * FROM generations ORDER BY generation")
            columns = [c[0] for c in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

    def top(self, k: int = 10) -> list[GenomeInfo]:
        """The k best distinct genomes (an elite carried over counts once), best first, as `inspect` ranks."""
        from evo_fastslow.analysis.sources import open_source

        source = open_source(str(self.dir), None, None, 0)
        with source.archive:
            ids = [c.genome_id for c in source.top(k)]
        return [self.genome(i) for i in ids if i is not None]

    def genome(self, genome_id: int) -> GenomeInfo:
        """One genome of the run by id (a re-tested one with its re-test's evidence); InputError if the run has
        no such evaluated genome."""
        with self._archive() as archive:
            record = next((g for g in archive.genomes() if g.id == genome_id), None)
            evaluation = archive.retests().get(genome_id) or archive.evaluations().get(genome_id)
        if record is None or evaluation is None:
            raise InputError(str(self.dir), "genome_id", f"the id of an evaluated genome of this run, not {genome_id}")
        return GenomeInfo(record.id, record.generation, record.origin, list(record.parents), dict(record.genes),
                          evaluation.status, evaluation.fitness, evaluation.replicates, evaluation.ci_low,
                          evaluation.ci_high, evaluation.rung, evaluation.decision)

    def lineage(self, genome_id: int) -> list[dict[str, Any]]:
        """The genome's ancestry back to generation 1: each step's genome, parents and what changed."""
        from evo_fastslow.analysis.lineage import lineage

        self.genome(genome_id)
        with self._archive() as archive:
            return lineage(archive, genome_id)

    def validate(self, top: int = 3, seeds: int = 8, front: bool = False, suites: Sequence[str] | None = None,
                 seed: int | None = None, workers: int | None = None, console: "Console | None" = None
                 ) -> dict[str, Any]:
        """The top genomes (or the Pareto front) re-run on fresh seeds no selection saw, against every
        baseline: the report `evo-fastslow validate --json` prints."""
        return validate(str(self.dir), top=top, seeds=seeds, front=front, suites=suites, seed=seed,
                        workers=workers, console=console)

    def ablate(self, genes: Sequence[str] | None = None, seeds: int = 5, suites: Sequence[str] | None = None,
               seed: int | None = None, workers: int | None = None, console: "Console | None" = None
               ) -> dict[str, Any]:
        """The best genome with one gene at a time set back to its default: each gene's effect with an interval."""
        return ablate(str(self.dir), genes=genes, seeds=seeds, suites=suites, seed=seed, workers=workers,
                      console=console)

    def selection_map(self) -> "pd.DataFrame":
        """This run's row of the selection map: each mechanism's share of the first and last generation, and
        what removing it costs the winner (after `ablate`); `evo_fastslow.selection_map` takes many runs."""
        from evo_fastslow.analysis.selection_map import selection_map as build
        from evo_fastslow.analysis.selection_map import world_of

        return build({world_of(self.dir): [self.dir]})


def _source(source: str, seeds: int, suites: Sequence[str] | None, seed: int | None, workers: int | None,
            archive: str | None) -> Any:
    from evo_fastslow.analysis.sources import open_source
    from evo_fastslow.errors import input_file, output_file

    if seeds < 2:
        raise InputError("seeds", "value", "at least 2 (an interval needs two replicates)")
    for suite in suites or []:
        input_file(suite, "a suite file (YAML)", (suite or '""', "--suite"))
    keep = None if archive is None else str(output_file(archive, "an archive file (SQLite)", (archive or '""',
                                                                                              "--archive")))
    return open_source(str(source), list(suites) if suites else None, seed, workers, keep)


def validate(source: str | Path, top: int = 3, seeds: int = 8, front: bool = False,
             suites: Sequence[str] | None = None, seed: int | None = None, workers: int | None = None,
             archive: str | None = None, console: "Console | None" = None) -> dict[str, Any]:
    """Validate a run's best genomes, or a genome file's (FILE or FILE:NAME, with `suites`), on fresh seeds."""
    from evo_fastslow.analysis.sources import file_candidates
    from evo_fastslow.analysis.validate import validate as run_validation
    from evo_fastslow.console import make_console

    if top < 1:
        raise InputError("top", "value", "at least 1")
    found = _source(str(source), seeds, suites, seed, workers, archive)
    with found.archive:
        if found.run_dir:
            candidates = found.front() if front else found.top(top)
        else:
            candidates = file_candidates(str(source))
        report = run_validation(found, candidates, seeds, console or make_console(stderr=True))
        if found.run_dir:
            _track_validation(found, report)
        return report


def _track_validation(found: Any, report: dict[str, Any]) -> None:
    """A tracked run's trackers get each validated genome's mean, at the run's last generation."""
    from evo_fastslow.evolution.rundir import tracker_for

    tracker = tracker_for(found.run_dir)
    if tracker is None:
        return
    tracker.attach(found.archive)
    last = max((row[0] for row in found.archive.generation_summaries()), default=0)
    tracker.validated(last, [(g["genome_id"], g["validated_fitness"]["mean"]) for g in report["genomes"]])
    tracker.close(finished=True)


def ablate(source: str | Path, genes: Sequence[str] | None = None, seeds: int = 5,
           suites: Sequence[str] | None = None, seed: int | None = None, workers: int | None = None,
           archive: str | None = None, console: "Console | None" = None) -> dict[str, Any]:
    """Ablate a run's best genome, or one genome of a file (FILE:NAME, with `suites`)."""
    from evo_fastslow.analysis.ablate import ablate as run_ablation
    from evo_fastslow.analysis.sources import file_candidates
    from evo_fastslow.console import make_console

    found = _source(str(source), seeds, suites, seed, workers, archive)
    with found.archive:
        if found.run_dir:
            candidates = found.top(1)
            if not candidates:
                raise InputError(str(source), "archive.sqlite", "a run with at least one successful evaluation")
        else:
            candidates = file_candidates(str(source))
            if len(candidates) != 1:
                raise InputError(str(source), "genome", "one genome: name it as FILE:NAME")
        return run_ablation(found, candidates[0], seeds, list(genes) if genes else None,
                            console or make_console(stderr=True))


def selection_map(run_dirs: Sequence[str | Path] | Mapping[str, Sequence[str | Path]]) -> "pd.DataFrame":
    """For runs across worlds, each fast-learning mechanism's share of the first and last generation beside
    what removing it costs each run's winner (`ablate RUN --genes core meta_inputs episodic_memory encoder
    intrinsic` first): one row per world x mechanism (analysis/selection_map.py). Run directories are grouped
    by their suites, or given as {world: [run_dir, ...]}."""
    from evo_fastslow.analysis.selection_map import by_world
    from evo_fastslow.analysis.selection_map import selection_map as build

    runs = dict(run_dirs) if isinstance(run_dirs, Mapping) else by_world([run_directory(str(d)) for d in run_dirs])
    return build(runs)


def run_lifetime(genome: str | Mapping[str, Any], suite: str | Path, seed: int = 0,
                 save_weights: str | None = None, console: "Console | None" = None) -> dict[str, Any]:
    """One lifetime of a genome (a genome file spec FILE[:NAME], or a mapping of genes) on a suite, with
    the suite's baselines on the same held-out tasks: what `evo-fastslow lifetime --json` prints."""
    return lifetime_report(seed, *run_lifetime_with_baselines(genome, suite, seed, save_weights, console))


def lifetime_report(seed: int, genome: Any, suite: Any, result: Any, baselines: dict) -> dict[str, Any]:
    """A lifetime and its suite's baselines as plain data (`evo-fastslow lifetime --json`)."""
    return {"genome": genome.to_json(), "suite": suite.name, "seed": seed, **result.to_dict(),
            "baselines": {n: b["test_regret"] for n, b in baselines.items()},
            "baseline_rewards": {n: b["test_mean_reward"] for n, b in baselines.items()},
            "baseline_analysis": {n: b["analysis"] for n, b in baselines.items()}}


def run_lifetime_with_baselines(genome: str | Mapping[str, Any], suite: str | Path, seed: int,
                                save_weights: str | None, console: "Console | None") -> tuple[Any, Any, Any, dict]:
    """(genome, suite, LifetimeResult, baselines): `run_lifetime`'s work, for the CLI's table as well."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from evo_fastslow.console import LogProgress, make_console
    from evo_fastslow.errors import input_file, output_file
    from evo_fastslow.genome import SEARCH_SPACE, load_genome, split_spec
    from evo_fastslow.lifetime import run_lifetime as live
    from evo_fastslow.lifetime.reference import baseline_results
    from evo_fastslow.suite import load_suite
    from evo_fastslow.weights import PROVENANCE_KEY

    if isinstance(genome, str):
        input_file(split_spec(genome)[0], "a genome file (JSON)", (genome or '""', "--genome"))
    input_file(str(suite), "a suite file (YAML)", (str(suite) or '""', "--suite"))
    loaded = load_genome(genome) if isinstance(genome, str) else SEARCH_SPACE.complete(dict(genome), source="genes")
    fitness_suite = load_suite(suite)
    if save_weights is not None:
        output_file(save_weights, "a weights file", (save_weights or '""', "--save-weights"))
    err = console or make_console(stderr=True)
    initial = _genome_weights(genome, loaded, fitness_suite) if isinstance(genome, str) else None
    if initial is not None:
        err.print(f"starting from the genome's evolved initial weights ({loaded.provenance[PROVENANCE_KEY]['file']})")
    with LogProgress(TextColumn("[bold]lifetime[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                     TextColumn("updates"), TimeElapsedColumn(), console=err, transient=True) as bar:
        job = bar.add_task(f"{loaded.name or 'genome'} on {fitness_suite.name}", total=None)
        result = live(loaded, fitness_suite, seed, save_weights=save_weights, initial=initial,
                              progress=lambda done, total: bar.update(job, completed=done, total=total))
    return loaded, fitness_suite, result, baseline_results(fitness_suite, seed)


def _genome_weights(spec: str, genome: Any, suite: Any) -> dict | None:
    """The initial weights an exported genome carries for this suite (checked), or None."""
    from evo_fastslow.evolution.evaluate import architecture
    from evo_fastslow.genome import split_spec
    from evo_fastslow.weights import PROVENANCE_KEY, from_bytes, genome_file_weights, shapes, suite_tensors

    blob = genome_file_weights(dict(genome.provenance), split_spec(spec)[0], genome.name)
    if blob is None:
        return None
    tensors = {k: v for k, v in from_bytes(blob, spec).items() if k.startswith(f"{suite.name}/")}
    if shapes(tensors) != architecture(dict(genome.genes), [suite]):
        raise InputError(spec, f"genome {genome.name!r}, provenance.{PROVENANCE_KEY}",
                         f"weights of this genome's architecture on suite {suite.name} (evolved on another suite?)")
    return suite_tensors(tensors, suite.name)
