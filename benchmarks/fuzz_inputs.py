"""Fuzz what users hand the project, many cases per family (tests/fuzz_inputs.py makes and classifies
them; the test suite runs a few hundred): run configs, genome files, suites and damaged run directories.
Prints per family how many ended clear (one line naming file and field), accepted (valid), traceback (a
bug: the first few shown) or runaway (past the time guard).

    python benchmarks/fuzz_inputs.py                 # 1000 cases per family
    python benchmarks/fuzz_inputs.py --cases 200 --seed 7
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_inputs import FAMILIES, ROOT, classify, run_dir_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from evo_fastslow.evolution.config import load_config
    from evo_fastslow.evolution.loop import Run

    with tempfile.TemporaryDirectory() as tmp:
        finished = Path(tmp) / "finished"
        Run(load_config(ROOT / "configs" / "quickstart.yaml", [
            "budget.train_env_steps=6000", "budget.test_episodes=10", "population=3", "generations=2",
            "cluster.workers=0", "search_space.ranges.hidden_size=[8, 16]"]), finished).start()
        families = {**FAMILIES, "run directory": lambda rng, folder: run_dir_case(rng, folder, finished)}
        print(f"{'family':16s} {'cases':>6s} {'clear':>6s} {'accepted':>9s} {'traceback':>10s} {'runaway':>8s}")
        for name, make in families.items():
            counts, shown = Counter(), 0
            for case in range(args.cases):
                rng = random.Random(f"{args.seed}-{name}-{case}")
                folder = Path(tmp) / "case"
                folder.mkdir(exist_ok=True)
                outcome, detail = classify(make(rng, folder))
                counts[outcome] += 1
                if outcome in ("traceback", "runaway") and shown < 3:
                    print(f"  {name} case {case}: {outcome}\n{detail}", file=sys.stderr)
                    shown += 1
            print(f"{name:16s} {args.cases:6d} {counts['clear']:6d} {counts['accepted']:9d} "
                  f"{counts['traceback']:10d} {counts['runaway']:8d}", flush=True)


if __name__ == "__main__":
    main()
