"""Property-based fuzzing of what users hand the project (tests/fuzz_inputs.py): every malformed run config,
genome file, suite or run directory ends in a clear error or is accepted as valid, within a time guard;
never a traceback, never a runaway. (More cases per family: benchmarks/fuzz_inputs.py.)"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run
from fuzz_inputs import FAMILIES, ROOT, classify, run_dir_case

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True)


@pytest.mark.parametrize("family", list(FAMILIES))
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_malformed_inputs_end_clearly(tmp_path, family, rng):
    outcome, detail = classify(FAMILIES[family](rng, tmp_path))
    assert outcome in ("clear", "accepted"), detail


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("fuzz") / "run"
    Run(load_config(ROOT / "configs" / "quickstart.yaml", [
        "budget.train_env_steps=6000", "budget.test_episodes=10", "population=3", "generations=2",
        "cluster.workers=0", "search_space.ranges.hidden_size=[8, 16]"]), run).start()
    return run


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(rng=st.randoms(use_true_random=False))
def test_damaged_run_directories_end_clearly(tmp_path, finished, rng):
    outcome, detail = classify(run_dir_case(rng, tmp_path, finished))
    assert outcome in ("clear", "accepted"), detail
