"""Issue 22's agent in one command: evolve `studies/bandit-agent/configs/bandit-agent.yaml` (or `--config`), validate its best
genome on fresh seeds no selection saw, and write it with its provenance to `populations/evolved.json`
under the config's name (the file's other genomes stay).

    python studies/bandit-agent/bandit_agent.py                       # evolve (22 min on one worker), validate (10 min), write
    python studies/bandit-agent/bandit_agent.py --config studies/bandit-agent/configs/bandit-agent-6m.yaml   # the agent evolved at 6M
    python studies/bandit-agent/bandit_agent.py --run-dir DIR --check # re-evolve into DIR and compare its archive digest
                                                             # with the one populations/evolved.json records

Validation (`validate`, every figure with its 95% interval over seeds, beside the baselines on the same
tasks), both suites at Wang et al.'s budget (2M env-steps per lifetime) and at the suites' own (6M).
The archive digest is a SHA-256 of `Archive.snapshot()` and `trial_snapshot()`: every genome, outcome and
trial without timings or workers, what two runs of the same config and seed must agree on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evo_fastslow import api  # noqa: E402
from evo_fastslow.archive import Archive  # noqa: E402
from evo_fastslow.evolution.config import load_config  # noqa: E402
from evo_fastslow.genome import identity_genes  # noqa: E402

CONFIG = "studies/bandit-agent/configs/bandit-agent.yaml"
SUITES_FULL = ["fitness/bandit-independent.yaml", "fitness/bandit-correlated.yaml"]  # 6M env-steps each
WANG_BUDGET = 2_000_000


def archive_digest(run_dir: Path) -> str:
    """Genes are hashed as `identity_genes` gives them: a gene added after a digest was recorded, left at
    its default, does not change the digest."""
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        rows = [_identity(row, 3) for row in archive.snapshot()] + [_identity(row, 1) for row in archive.trial_snapshot()]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def _identity(row: tuple, column: int) -> tuple:
    genes = identity_genes(json.loads(row[column]))
    return (*row[:column], json.dumps(genes, sort_keys=True), *row[column + 1:])


def figures(report: dict, label: str) -> dict:
    """The best genome's validated regret per suite, with Thompson sampling's and the Gittins index's
    (where the suite has them) on the same tasks, and its worst seed."""
    genome, out = report["genomes"][0], {}
    for suite in report["suites"]:
        key = f"{suite}.test_regret"
        baselines = report["baselines"].get(key, {})
        out[f"{label}: {suite}"] = {
            "regret": genome["measures"][key],
            **{policy: baselines[policy] for policy in baselines},
        }
    out[f"{label}: fitness"] = genome["validated_fitness"]
    return out


def suites_at(run: api.Run, budget: int) -> list[str] | None:
    """Suite files of the run's suites at another lifetime budget (written into the run directory), with
    the run's test episodes; None where the run was evolved at that budget (its own suites)."""
    import yaml

    if run.config.budget.train_env_steps == budget:
        return None
    folder, paths = run.dir / f"validation-suites-{budget}", []
    folder.mkdir(exist_ok=True)
    for suite in run.config.fitness_suites():
        document = suite.model_dump(mode="json", exclude_none=True, by_alias=True)
        document["lifetime"]["train_env_steps"] = budget
        path = folder / f"{suite.name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        paths.append(str(path))
    return paths


def worst_seeds(run_dir: Path) -> dict[str, float]:
    """The highest regret of any validation replicate, per suite (a lifetime at chance shows here)."""
    frame = api.Run(run_dir).replicates()
    columns = [c for c in frame.columns if c.endswith("test_regret")]
    return {c: float(frame[c].max()) for c in columns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--run-dir", default=None, help="default runs/NAME-seed0")
    parser.add_argument("--seeds", type=int, default=20, help="validation lifetimes per budget")
    parser.add_argument("--workers", type=int, default=None, help="validation workers (default: the run's)")
    parser.add_argument("--check", action="store_true", help="only evolve and compare the archive digest with "
                        "populations/evolved.json's")
    parser.add_argument("--out", default="populations/evolved.json")
    args = parser.parse_args()
    name = load_config(args.config).name  # the shipped genome's name
    run_dir = Path(args.run_dir or f"runs/{name}-seed0")
    if not (run_dir / "archive.sqlite").exists():
        api.evolve(args.config, run_dir=run_dir)
    digest = archive_digest(run_dir)
    out = Path(args.out)
    shipped = json.loads(out.read_text())["genomes"] if out.is_file() else []
    if args.check:
        recorded = next((g["provenance"]["archive_digest"] for g in shipped if g["name"] == name), None)
        if recorded is None:
            sys.exit(f"{out}: no genome named {name!r} to check against (run without --check first)")
        verdict = "the same" if digest == recorded else "DIFFERENT"
        print(f"archive digest {digest}\nrecorded       {recorded}\n{verdict}")
        sys.exit(0 if digest == recorded else 1)
    run = api.Run(run_dir)
    best = run.top(1)[0]
    validated = figures(run.validate(top=1, seeds=args.seeds, workers=args.workers,
                                     suites=suites_at(run, WANG_BUDGET)), "2M")
    validated.update(figures(run.validate(top=1, seeds=args.seeds, workers=args.workers, suites=SUITES_FULL), "6M"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    command = "python studies/bandit-agent/bandit_agent.py" + ("" if args.config == CONFIG else f" --config {args.config}")
    provenance = {"source": "evolved", "config": args.config, "run_seed": run.config.seed,
                  "validated_at_commit": commit, "command": command, "genome_id": best.genome_id,
                  "selection_fitness": best.fitness, "archive_digest": digest,
                  "validation_seeds": args.seeds, "validated": validated, "worst_seed_regret": worst_seeds(run_dir)}
    genomes = [g for g in shipped if g["name"] != name] + [{"name": name, "genes": best.genes,
                                                            "provenance": provenance}]
    document = {"schema": "evo_fastslow.genomes/1", "genomes": genomes}
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(provenance, indent=2))


if __name__ == "__main__":
    main()
