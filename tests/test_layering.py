"""The package's layering, as `.importlinter` states it: checked by import-linter over the real import graph
(every floor of docs/design.md imports only the floors below it; no two modules of a package import each other)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold():
    proc = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout and "6 kept" in proc.stdout, proc.stdout
