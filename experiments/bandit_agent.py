"""Issue 22's agent in one command: evolve `configs/bandit-agent.yaml`, validate its best genome on fresh
seeds no selection saw, and write it with its provenance to `populations/evolved.json`.

    python experiments/bandit_agent.py                       # evolve (22 min on one worker), validate (10 min), write
    python experiments/bandit_agent.py --run-dir DIR --check # re-evolve into DIR and compare its archive digest
                                                             # with the one populations/evolved.json records

Validation (`validate`, every figure with its 95% interval over seeds, beside the baselines on the same
tasks): the evolved budget (2M env-steps per lifetime, both suites) and the suites' own budget (6M).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evo_fastslow import api  # noqa: E402
from evo_fastslow.archive import Archive  # noqa: E402

CONFIG = "configs/bandit-agent.yaml"
SUITES_FULL = {"bandit-independent (6M)": "fitness/bandit-independent.yaml",
               "bandit-correlated (6M)": "fitness/bandit-correlated.yaml"}
AT_CHANCE = 8.0  # regret above this on independent arms: the lifetime did not learn (issue 22)


def archive_digest(run_dir: Path) -> str:
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        rows = archive.snapshot() + archive.trial_snapshot()
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


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


def worst_seeds(run_dir: Path) -> dict[str, float]:
    """The highest regret of any validation replicate, per suite (a lifetime at chance shows here)."""
    frame = api.Run(run_dir).replicates()
    columns = [c for c in frame.columns if c.endswith("test_regret")]
    return {c: float(frame[c].max()) for c in columns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/bandit-agent-seed0")
    parser.add_argument("--seeds", type=int, default=20, help="validation lifetimes per budget")
    parser.add_argument("--workers", type=int, default=None, help="validation workers (default: the run's)")
    parser.add_argument("--check", action="store_true", help="only evolve and compare the archive digest with "
                        "populations/evolved.json's")
    parser.add_argument("--out", default="populations/evolved.json")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "archive.sqlite").exists():
        api.evolve(CONFIG, run_dir=run_dir)
    digest = archive_digest(run_dir)
    if args.check:
        recorded = json.loads(Path(args.out).read_text())["genomes"][0]["provenance"]["archive_digest"]
        verdict = "the same" if digest == recorded else "DIFFERENT"
        print(f"archive digest {digest}\nrecorded       {recorded}\n{verdict}")
        sys.exit(0 if digest == recorded else 1)
    run = api.Run(run_dir)
    best = run.top(1)[0]
    validated = figures(run.validate(top=1, seeds=args.seeds, workers=args.workers), "2M")
    validated.update(figures(run.validate(top=1, seeds=args.seeds, workers=args.workers,
                                          suites=list(SUITES_FULL.values())), "6M"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    provenance = {"source": "evolved", "config": CONFIG, "run_seed": run.config.seed, "validated_at_commit": commit,
                  "command": "python experiments/bandit_agent.py", "genome_id": best.genome_id,
                  "selection_fitness": best.fitness, "archive_digest": digest,
                  "validation_seeds": args.seeds, "validated": validated, "worst_seed_regret": worst_seeds(run_dir)}
    document = {"schema": "evo_fastslow.genomes/1",
                "genomes": [{"name": "bandit-agent", "genes": best.genes, "provenance": provenance}]}
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(provenance, indent=2))


if __name__ == "__main__":
    main()
