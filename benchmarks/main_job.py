"""The README's main job (`configs/quickstart.yaml`) on several run seeds, beside Optuna's TPE given the
same env-steps on the same run seeds: is what a newcomer is shown a good agent, whatever the seed?

Per run seed: the main job as shipped (`evolve`, its re-test included), the env-steps it spent, its winner
(as `inspect` names it) validated on fresh seeds no selection saw; then Optuna's TPE over the same [0,1]^d
encoding with as many full lifetimes as those env-steps pay for, one lifetime per trial
(benchmarks/selection.py: tpe_arm), its best trial validated on the same number of fresh seeds. Printed: both per seed, their means with 95% t
intervals, the paired difference, and the winners at chance (validated fitness below 0.3).

    python benchmarks/main_job.py                                  # run seeds 0-4, 8 fresh seeds each
    python benchmarks/main_job.py --set evaluation.retest=null --out runs/main-job-no-retest   # without its re-test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection import run_suites, tpe_arm, validated  # noqa: E402

from evo_fastslow.analysis.sources import Candidate, open_source  # noqa: E402
from evo_fastslow.archive import Archive  # noqa: E402
from evo_fastslow.evolution.config import load_config  # noqa: E402
from evo_fastslow.evolution.loop import Run  # noqa: E402
from evo_fastslow.statistics import mean_interval  # noqa: E402

CHANCE = 0.3


def main_job(config_path: str, sets: list[str], seed: int, out: Path, fresh: int, workers: int | None,
             console: Console) -> dict:
    """The main job on one run seed and TPE at its env-steps, both winners validated (read back if done)."""
    done = out / f"seed-{seed}.json"
    if done.is_file():
        return json.loads(done.read_text())
    run_dir = out / f"seed-{seed}"
    config = load_config(config_path, [*sets, f"seed={seed}"])
    run = Run(config, run_dir, console=console)
    if (run_dir / "archive.sqlite").is_file():  # an interrupted run goes on
        run.resume()
    else:
        run.start()
    with Archive(run_dir / "archive.sqlite") as archive:
        spent = archive.spending()["env_steps"]
    source = open_source(str(run_dir), None, None, workers)
    with source.archive:
        best = source.top(1)[0]
    job = {"selection": best.selection, "genes": best.genes, "env_steps": spent,
           "validated": validated(str(run_dir), best, None, None, fresh, workers, console)}
    tpe = tpe_arm(config_path, [*sets, f"seed={seed}"], seed, spent, out / "tpe", workers or os.cpu_count() or 1)
    suites = run_suites(config, out / "suites")  # TPE's winner validated at the main job's budget
    tpe["validated"] = validated(str(out / "tpe" / f"tpe-seed-{seed}.json"),
                                 Candidate("tpe", tpe["genes"], selection=tpe["selection"]), suites, seed, fresh,
                                 workers, console)
    result = {"seed": seed, "main job": job, "tpe": {k: tpe[k] for k in ("selection", "genes", "env_steps",
                                                                           "validated")}}
    done.write_text(json.dumps(result, default=float))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--set", action="append", default=[], help="override, key.path=value")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--validate", type=int, default=8, help="fresh seeds per winner")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default="runs/main-job")
    args = parser.parse_args()
    console, out = Console(stderr=True), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = [*args.set, *([f"cluster.workers={args.workers}"] if args.workers is not None else [])]
    results = [main_job(args.config, sets, seed, out, args.validate, args.workers, console) for seed in args.seeds]
    print(f"{'run seed':>8s} {'main job: validated':>20s} {'selection':>9s} {'env-steps':>9s} {'TPE: validated':>15s} "
          f"{'selection':>9s} {'env-steps':>9s}")
    for r in results:
        job, tpe = r["main job"], r["tpe"]
        print(f"{r['seed']:8d} {job['validated']:20.3f} {job['selection']:9.3f} {job['env_steps'] / 1e6:8.1f}M "
              f"{tpe['validated']:15.3f} {tpe['selection']:9.3f} {tpe['env_steps'] / 1e6:8.1f}M")
    for name in ("main job", "tpe"):
        valid = mean_interval([r[name]["validated"] for r in results])
        at_chance = sum(r[name]["validated"] < CHANCE for r in results)
        print(f"{name}: validated {valid.mean:.3f} [{valid.low:.3f}, {valid.high:.3f}] over {len(results)} run seeds; "
              f"at chance (below {CHANCE}): {at_chance}")
    diff = mean_interval([r["main job"]["validated"] - r["tpe"]["validated"] for r in results])
    print(f"main job - TPE, paired by run seed: {diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")


if __name__ == "__main__":
    main()
