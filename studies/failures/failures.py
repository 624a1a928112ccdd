"""Why a lifetime fails to learn: reference genomes over many lifetime seeds on a suite, at the suite's
full budget, with and without learner changes (issue 22).

Per (genome, variant): the share of lifetimes at chance (test regret above `--chance`, 8 on two-armed
bandits where random is 16.7), the mean regret with a 95% t interval over seeds, and for the failures
and the successes apart how training went (lifetime/run.py's diagnostics): policy entropy, the share
of an episode's pulls given to its most pulled arm, value loss and gradient norm at 10%, 50% and the
end of the lifetime. Every lifetime is kept as JSON in --out, so an interrupted run goes on.

    python studies/failures/failures.py --genomes wang2016-lstm wang2018-lstm --seeds 20
    python studies/failures/failures.py --genomes wang2016-lstm --variant 'norm={"normalize_advantages": true}'
    python studies/failures/failures.py --genomes nec-dnd --seeds 10 --first-seed 10   # seeds 10..19
    python studies/failures/failures.py --genomes populations/evolved.json:bandit-agent-wide --seeds 4

A genome is a name in populations/reference.json or a genome file spec FILE:NAME.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from evo_fastslow.statistics import mean_interval
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime.run import run_lifetime
from evo_fastslow.seeds import derive_seed
from evo_fastslow.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
POINTS = (0.1, 0.5, 1.0)
SHOWN = ("entropy", "top_action_share", "value_loss", "grad_norm")


def genome_spec(genome: str) -> str:
    """A reference genome's name, or a genome file spec FILE:NAME as it is."""
    return genome if ":" in genome else str(ROOT / f"populations/reference.json:{genome}")


def one_lifetime(genome_name: str, genes: dict[str, Any], suite_path: str, index: int) -> dict[str, Any]:
    genome = load_genome(genome_spec(genome_name)).with_genes(**genes)
    result = run_lifetime(genome, load_suite(suite_path), seed=derive_seed(index, "failures"))
    return {"status": result.status, "regret": result.test_regret, "score": result.normalized_score,
            "diagnostics": result.diagnostics, "curve": result.learning_curve, "seconds": result.wall_seconds}


def at(diagnostics: list[dict[str, float]], share: float, key: str) -> float:
    return diagnostics[min(len(diagnostics) - 1, int(share * len(diagnostics)))][key]


def summary(name: str, runs: list[dict[str, Any]], chance: float) -> list[str]:
    regrets = [r["regret"] for r in runs]
    interval = mean_interval(regrets)
    failed = [r for r in runs if r["regret"] > chance]
    lines = [f"{name:46s} {len(failed):2d}/{len(runs):<3d} {interval.mean:6.2f} [{interval.low:5.2f}, "
             f"{interval.high:5.2f}]  median {np.median(regrets):5.2f}  worst {max(regrets):5.2f}"]
    for label, group in (("failed", failed), ("learned", [r for r in runs if r["regret"] <= chance])):
        if group:
            cells = "  ".join(f"{key} " + "/".join(f"{np.mean([at(r['diagnostics'], p, key) for r in group]):.2f}"
                                                   for p in POINTS) for key in SHOWN)
            lines.append(f"    {label:8s} (10%/50%/end) {cells}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genomes", nargs="+", default=["wang2016-lstm", "wang2018-lstm"])
    parser.add_argument("--suite", default=str(ROOT / "fitness/bandit-independent.yaml"))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="lifetime seeds derive_seed(i, 'failures') for i = first .. first + seeds - 1")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="genes changed from the reference genome (the reference itself always runs)")
    parser.add_argument("--chance", type=float, default=8.0, help="a test regret above this is at chance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/failures")
    args = parser.parse_args()
    variants = {"as shipped": {}}
    for text in args.variant:
        name, brace, genes = text.partition("={")  # the name may hold "=" (B=4={...})
        try:
            variants[name] = json.loads(brace[1:] + genes)
        except json.JSONDecodeError as err:
            parser.error(f"--variant {text!r}: NAME={{JSON object of genes}} expected ({err.msg})")
    try:  # the genomes, their variants and the suite read before any lifetime starts
        load_suite(args.suite)
        for genome in args.genomes:
            for genes in variants.values():
                load_genome(genome_spec(genome)).with_genes(**genes)
    except ValueError as err:  # InputError included: it names the file and the field
        raise SystemExit(str(err)) from None
    out, suite_name = Path(args.out), Path(args.suite).stem
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    folder = {g: g.rpartition(":")[2] for g in args.genomes}  # a file spec's genome name
    jobs = [(g, v, i) for g in args.genomes for v in variants for i in seeds]
    todo = [job for job in jobs if not (out / suite_name / folder[job[0]] / job[1] / f"{job[2]}.json").is_file()]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {job: pool.submit(one_lifetime, job[0], variants[job[1]], args.suite, job[2]) for job in todo}
        for (genome, variant, index), future in futures.items():
            path = out / suite_name / folder[genome] / variant / f"{index}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(future.result()))
            print(f"{genome} {variant} seed {index}: regret {future.result()['regret']:.2f}", flush=True)
    print(f"\n{suite_name}, {args.seeds} lifetime seeds each ({seeds.start}..{seeds.stop - 1}); at chance = test "
          f"regret above {args.chance}")
    print(f"{'genome, variant':46s} {'at chance':>6s} {'mean regret [95%]':>21s}")
    for genome in args.genomes:
        for variant, genes in variants.items():
            runs = [json.loads((out / suite_name / folder[genome] / variant / f"{i}.json").read_text())
                    for i in seeds]
            label = f"{genome}, {variant}" + (f" {json.dumps(genes)}" if genes else "")
            print("\n".join(summary(label, runs, args.chance)))


if __name__ == "__main__":
    main()
