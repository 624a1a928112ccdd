"""Plugins from the user's own package (examples/plugin, installed by this test): a task named by import
path and by entry point, a core with a gene of its own; in-process and on 2 real `dask worker` processes
with identical archives; a worker without the plugin named in one error; `check_task` on broken tasks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from dask_processes import dask_processes
from runs import snapshot

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugin"
TINY = ["budget.train_env_steps=6000", "budget.test_episodes=20", "population=4", "generations=2"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The example plugin installed (pip) into a folder of its own: the environment that sees it."""
    target, source = tmp_path_factory.mktemp("plugin-site"), tmp_path_factory.mktemp("plugin-source") / "plugin"
    shutil.copytree(PLUGIN, source)  # a build leaves files behind: not in the repository
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def _config(tmp: Path, suite: str) -> Path:
    data = yaml.safe_load((PLUGIN / "config.yaml").read_text())
    data["suites"] = [str(PLUGIN / "suites" / suite)]
    path = tmp / f"config-{suite}"
    path.write_text(yaml.safe_dump(data))
    return path


def _evolve(config: Path, run_dir: Path, env: dict[str, str], *sets: str) -> subprocess.CompletedProcess:
    args = [a for s in [*TINY, *sets] for a in ("--set", s)]
    return subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "evolve", str(config), "--out", str(run_dir),
                           *args], capture_output=True, text=True, env=env, timeout=600)


def test_plugin_task_and_core_evolve_in_process_and_on_real_workers_alike(tmp_path, installed):
    by_path = _evolve(_config(tmp_path, "reversal-import-path.yaml"), tmp_path / "by-path", installed,
                      "cluster.workers=0")
    assert by_path.returncode == 0, by_path.stderr
    by_entry = _evolve(_config(tmp_path, "reversal-entry-point.yaml"), tmp_path / "by-entry", installed,
                       "cluster.workers=0")
    assert by_entry.returncode == 0, by_entry.stderr
    reference = snapshot(tmp_path / "by-path")
    assert reference == snapshot(tmp_path / "by-entry")  # both suites are called `reversal`: the same run
    genomes = [yaml.safe_load(row[3]) for row in reference if len(row) == 19]
    assert {g["core"] for g in genomes} == {"gru", "leaky-rnn"}  # the plugin core was searched
    assert len({g["leak"] for g in genomes}) > 1                  # and its own gene with it
    from evo_fastslow.archive import Archive

    with Archive(tmp_path / "by-entry" / "archive.sqlite") as archive:
        assert archive.meta("plugins") == {"reversal-bandit": "evo-fastslow-example 0.1.0",
                                           "leaky-rnn": "evo-fastslow-example 0.1.0"}
        recorded = [f["plugins"] for f in archive.fingerprints().values()]  # the numeric fingerprint has them
        assert recorded and all(p.get("leaky-rnn") == "evo-fastslow-example 0.1.0" for p in recorded)

    with dask_processes(tmp_path / "cluster", [{"PYTHONPATH": installed["PYTHONPATH"]}] * 2) as address:
        remote = _evolve(_config(tmp_path, "reversal-entry-point.yaml"), tmp_path / "remote", installed,
                         f"cluster.address={address}")
    assert remote.returncode == 0, remote.stderr
    assert snapshot(tmp_path / "remote") == reference


def test_a_plugin_searcher_evolves_by_import_path_entry_point_and_on_real_workers_alike(tmp_path, installed):
    """The example's CrossEntropy searcher (written against evolution/searchers/base.py), named by import path
    and by its entry point `cem`: one archive in-process and on 2 real `dask worker` processes; its name and
    version in the archive."""
    config = _config(tmp_path, "reversal-entry-point.yaml")
    by_path = _evolve(config, tmp_path / "by-path", installed, "cluster.workers=0",
                      "searcher={name: 'evo_fastslow_example.searchers:CrossEntropy', elite_share: 0.5}")
    assert by_path.returncode == 0, by_path.stderr
    by_entry = _evolve(config, tmp_path / "by-entry", installed, "cluster.workers=0",
                       "searcher={name: cem, elite_share: 0.5}")
    assert by_entry.returncode == 0, by_entry.stderr
    reference = snapshot(tmp_path / "by-path")
    assert reference == snapshot(tmp_path / "by-entry")
    assert {row[4] for row in reference if len(row) == 19} == {"sampled"}
    from evo_fastslow.archive import Archive

    with Archive(tmp_path / "by-entry" / "archive.sqlite") as archive:
        assert archive.meta("searcher") == {"name": "cem", "class": "evo_fastslow_example.searchers:CrossEntropy",
                                            "version": "evo-fastslow-example 0.1.0"}
    with dask_processes(tmp_path / "cluster", [{"PYTHONPATH": installed["PYTHONPATH"]}] * 2) as address:
        remote = _evolve(config, tmp_path / "remote", installed, f"cluster.address={address}",
                         "searcher={name: cem, elite_share: 0.5}")
    assert remote.returncode == 0, remote.stderr
    assert snapshot(tmp_path / "remote") == reference


def test_a_resumed_run_without_its_plugin_searcher_is_named(tmp_path, installed):
    run = tmp_path / "run"
    proc = _evolve(ROOT / "configs" / "quickstart.yaml", run, installed, "cluster.workers=0", "generations=1",
                   "searcher={name: cem}")
    assert proc.returncode == 0, proc.stderr
    without = {k: v for k, v in installed.items() if k != "PYTHONPATH"}  # the plugin is gone
    resumed = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "resume", str(run)], capture_output=True,
                             text=True, env=without, timeout=300)
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr, resumed.stderr
    assert f"{run / 'config.yaml'}: searcher.name: searcher 'cem'" in resumed.stderr, resumed.stderr


def test_a_worker_without_the_plugin_is_named(tmp_path, installed):
    with dask_processes(tmp_path / "cluster", [{"PYTHONPATH": installed["PYTHONPATH"]}, {"PYTHONPATH": ""}]) as address:
        proc = _evolve(_config(tmp_path, "reversal-entry-point.yaml"), tmp_path / "run", installed,
                       f"cluster.address={address}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "worker w1 (" in proc.stderr and "reversal-bandit" in proc.stderr, proc.stderr


def test_genome_files_cannot_import_code_but_may_name_installed_cores(tmp_path, installed):
    genes = {"core": "evo_fastslow_example.cores:LeakyRNNCore", "hidden_size": 8}
    path = tmp_path / "genomes.json"
    path.write_text(json.dumps({"schema": "evo_fastslow.genomes/1", "genomes": [{"name": "g", "genes": genes}]}))
    probe = ("import sys, evo_fastslow.genome as g\n"
             "try:\n    g.load_genomes(sys.argv[1])\nexcept Exception as e:\n    print('refused', e)\n"
             "print('imported' if 'evo_fastslow_example.cores' in sys.modules else 'not imported')")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, env=installed).stdout
    assert "refused" in out and "gene 'core'" in out and "not imported" in out, out
    genes["core"] = "leaky-rnn"  # an installed entry point: allowed, and its gene comes with it
    path.write_text(json.dumps({"schema": "evo_fastslow.genomes/1", "genomes": [{"name": "g", "genes": genes}]}))
    out = subprocess.run([sys.executable, "-c", probe.replace("g.load_genomes(sys.argv[1])",
                                                              "print(g.load_genomes(sys.argv[1])[0]['leak'])"),
                          str(path)], capture_output=True, text=True, env=installed).stdout
    assert "0.5" in out and "refused" not in out, out


def _broken(**changes):
    """A ReversalBandit variant that breaks the contract in one way."""
    sys.path.insert(0, str(PLUGIN))
    try:
        from evo_fastslow_example.tasks import ReversalBandit, ReversalEpisodes
    finally:
        sys.path.remove(str(PLUGIN))

    class Episodes(ReversalEpisodes):
        def step(self, t, actions):
            reward, obs = super().step(t, actions)
            if "reward_dtype" in changes:
                reward = reward.astype(changes["reward_dtype"])
            if "reward_value" in changes:
                reward = np.full_like(reward, changes["reward_value"])
            if "obs_shape" in changes:
                obs = obs.reshape(changes["obs_shape"](obs))
            return reward, obs

    class Broken(ReversalBandit):
        def sample(self, batch, rng):
            episodes = super().sample(batch, rng)
            broken = Episodes(episodes.probs, episodes.noise)
            if "first_obs" in changes:
                broken.first_obs = changes["first_obs"](broken.first_obs)
            return broken

    return Broken(trials=10)


@pytest.mark.parametrize("changes, message", [
    ({"first_obs": lambda o: o[:, 0]}, "sample(4, rng).first_obs: expected shape (4, 1), got (4,)"),
    ({"obs_shape": lambda o: (o.shape[0],)}, "step(0, actions) observation: expected shape (4, 1), got (4,)"),
    ({"reward_dtype": np.float64}, "step(0, actions) reward: expected dtype float32, got float64"),
    ({"reward_value": 2.0}, "step(0, actions) reward: expected values in reward_range [0.0, 1.0], got 2.0 .. 2.0"),
    ({"first_obs": lambda o: o.astype(np.float64)}, "first_obs: expected dtype float32, got float64"),
])
def test_check_task_names_what_is_broken(changes, message):
    import evo_fastslow as ef
    from evo_fastslow.tasks.check import TaskContractError

    with pytest.raises(TaskContractError) as err:
        ef.check_task(_broken(**changes))
    assert message in str(err.value) and str(err.value).startswith("Broken: "), str(err.value)


def test_check_task_passes_every_shipped_task_and_the_plugin():
    import evo_fastslow as ef
    from evo_fastslow.suite import load_suite

    for suite in sorted((ROOT / "fitness").glob("*.yaml")):
        ef.check_task(load_suite(suite).build_task())
    ef.check_task(_broken())  # no change: the plugin's task holds


@pytest.mark.parametrize("kind, expected", [
    ("no_such_module:Maze", "module 'no_such_module' cannot be imported (ModuleNotFoundError"),
    ("json:NoSuchClass", "module 'json' has no 'NoSuchClass'"),
    ("json:JSONDecoder", "a subclass of evo_fastslow.tasks.Task"),
    ("not-installed-task", "an import path module:Class or an entry point of evo_fastslow.tasks"),
    ("", "an import path module:Class or an entry point"),
])
def test_a_plugin_task_that_cannot_load_is_named_in_the_suite(tmp_path, capsys, kind, expected):
    from evo_fastslow.cli import main

    suite = yaml.safe_load((PLUGIN / "suites" / "reversal-import-path.yaml").read_text())
    suite["task"]["kind"] = kind
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["lifetime", "--genome", str(ROOT / "populations/reference.json:wang2016-lstm"),
                 "--suite", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: task.kind: " in err and expected in err and err.count("\n") == 1, err


@pytest.mark.parametrize("core, expected", [
    ("no_such_module:Core", "core 'no_such_module:Core': module 'no_such_module' cannot be imported"),
    ("json:JSONDecoder", "core 'json:JSONDecoder': a torch module with initial_state()"),
    ("not-installed-core", "an import path module:Class or an entry point of evo_fastslow.cores"),
])
def test_a_plugin_core_that_cannot_load_is_named_in_the_config(tmp_path, capsys, core, expected):
    from evo_fastslow.cli import main

    assert main(["evolve", str(ROOT / "configs/quickstart.yaml"), "--out", str(tmp_path / "never"),
                 "--set", f"search_space.choices.core=[lstm, '{core}']"]) == 2
    err = capsys.readouterr().err
    assert "configs/quickstart.yaml: search_space: core: " in err and expected in err, err
    assert not (tmp_path / "never").exists()
