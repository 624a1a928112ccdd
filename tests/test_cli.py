"""The CLI: the JSON contract, and bad input as one clear paragraph with exit code 2."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from evo_fastslow.cli import main


def _suite_file(tmp_path, **changes):
    data = yaml.safe_load(open("fitness/bandit-independent.yaml"))
    data["lifetime"]["train_env_steps"] = 32_000
    data["test"]["episodes"] = 100
    data.update(changes)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_lifetime_json(tmp_path, capsys):
    suite = _suite_file(tmp_path)
    code = main(["lifetime", "--genome", "populations/reference.json:wang2016-lstm", "--suite", str(suite),
                 "--json", "--seed", "3"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("status", "test_regret", "test_reward_per_trial", "normalized_score", "env_steps",
                "wall_seconds", "baselines"):
        assert key in out
    assert out["status"] == "ok" and len(out["test_reward_per_trial"]) == 100
    assert len(out["diagnostics"]) == len(out["learning_curve"])  # how training went, beside the curve
    assert set(out["baselines"]) == {"random", "oracle", "ucb1", "thompson", "greedy", "gittins",
                                    "bayes-optimal"}
    assert out["baselines"]["oracle"] == pytest.approx(0.0, abs=1e-6)


def test_lifetime_table(tmp_path, capsys):
    assert main(["lifetime", "--genome", "populations/reference.json:feedforward-blind",
                 "--suite", str(_suite_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "feedforward-blind" in out and "thompson" in out and "test regret" in out
    assert "training (means since the previous curve point)" in out and "top action share" in out


@pytest.mark.parametrize("genome, suite_changes, expected", [
    ("populations/reference.json:nope", {}, "genome 'nope': one of wang2016-lstm, feedforward-blind"),
    ("missing.json", {}, "missing.json: --genome: a genome file (JSON) that exists"),
    ("populations/reference.json:wang2016-lstm", {"metric": "speed"}, "suite.yaml: metric"),
    ("populations/reference.json:wang2016-lstm", {"task": {"kind": "bandit", "params": {"arms": 1}}},
     "suite.yaml: task.params.arms"),
    ("populations/reference.json:wang2016-lstm", {"task": {"kind": "chess"}}, "suite.yaml: task.kind"),
    ("populations/reference.json:wang2016-lstm", {"lifetime": {"train_env_steps": -5}},
     "suite.yaml: lifetime.train_env_steps"),
])
def test_bad_input_exits_2_without_traceback(tmp_path, genome, suite_changes, expected):
    suite = _suite_file(tmp_path, **suite_changes)
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "lifetime", "--genome", genome,
                           "--suite", str(suite)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_bad_gene_in_a_genome_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"schema": "evo_fastslow.genomes/1",
                                "genomes": [{"name": "x", "genes": {"discount": 2}}]}))
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "lifetime", "--genome", str(path),
                           "--suite", "fitness/bandit-independent.yaml"], capture_output=True, text=True)
    assert proc.returncode == 2 and "genome 'x', gene 'discount'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("suite, genome, figure", [
    ("two-step", "wang2018-lstm", "stay_probability"),
    ("harlow", "wang2018-lstm", "accuracy_by_trial"),
    ("recurring-contextual-bandits", "ritter2018-eplstm", "reward_by_trial"),
])
def test_lifetime_prints_the_suites_analysis(tmp_path, capsys, suite, genome, figure):
    data = yaml.safe_load(open(f"fitness/{suite}.yaml"))
    data["lifetime"]["train_env_steps"] = 20_000
    data["test"]["episodes"] = 100
    data["test"].pop("streams", None) if suite != "recurring-contextual-bandits" else data["test"].update(streams=20)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    args = ["lifetime", "--genome", f"populations/reference.json:{genome}", "--suite", str(path)]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert figure in out["analysis"] and all(figure in a for a in out["baseline_analysis"].values())
    assert main(args) == 0
    assert figure.replace("_", " ") in capsys.readouterr().out


def test_bad_kernel_mode_exits_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "lifetime", "--genome",
                           "populations/reference.json:wang2016-lstm", "--suite", "fitness/bandit-independent.yaml"],
                          capture_output=True, text=True, env={**os.environ, "EVO_FASTSLOW_KERNEL": "fastest"})
    assert proc.returncode == 2 and "EVO_FASTSLOW_KERNEL='fastest'" in proc.stderr and "auto, off, require" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_main_job_piped_through_cat_is_neither_wrapped_nor_cut(tmp_path):
    """Off a terminal (a batch log, `| tee`): full lines, plain progress lines, tables uncut, however narrow
    the terminal the job was started from (COLUMNS=40)."""
    import shlex

    from runs import evolve_command

    command = " ".join(shlex.quote(a) for a in evolve_command(tmp_path / "run", "cluster.workers=0"))
    proc = subprocess.run(f"{command} 2>&1 | cat", shell=True, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "40"})
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert "\x1b" not in proc.stdout and "…" not in proc.stdout  # no live-bar control codes, no cut cell
    summaries = [line for line in lines if line.startswith("generation ") and ": best " in line]
    assert len(summaries) == 2 and all(line.rstrip().endswith(" s") and "elapsed" in line for line in summaries)
    progress = [line for line in lines if line.startswith("generation ") and " trials, " in line]
    assert progress and all("best so far" in line for line in progress)  # plain progress lines, not a bar
    best = next(line for line in lines if line.startswith("best genome: id"))
    assert best.rstrip().endswith("}") and json.loads(best[best.index("{"):])["core"]  # the genes, whole
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table and all(line.rstrip()[-1] in "┓┃┩│┘" for line in table)
    assert any("episodes_per_update" in line and line.count("│") >= 3 for line in table)  # a row on one line
