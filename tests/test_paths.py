"""Every path a user writes is checked: empty, a directory, missing, inside a file, or not text gets one
message naming the path (or the config file and field that named it) and what was expected; exit code 2,
no traceback. A fuzz over every path-valued CLI argument and config field (issue 23, item 6)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from evo_fastslow.cli import main

ROOT = Path(__file__).resolve().parents[1]
GENOME = str(ROOT / "populations/reference.json:wang2016-lstm")
SUITE = str(ROOT / "fitness/bandit-independent.yaml")


def bad_paths(tmp: Path) -> dict[str, str]:
    """Paths that are not what a field wants, by kind."""
    (tmp / "folder").mkdir(exist_ok=True)
    (tmp / "a-file").write_text("x")
    (tmp / "binary").write_bytes(b"\xff\xfe\x00\x80not text")
    return {"empty": "", "dot": ".", "directory": str(tmp / "folder"), "missing": str(tmp / "missing.yaml"),
            "inside a file": str(tmp / "a-file" / "below"), "not text": str(tmp / "binary")}


def run_dir(tmp: Path) -> str:
    """A real (tiny, finished) run directory, made once per test module."""
    out = tmp / "run"
    if not (out / "archive.sqlite").exists():
        assert main(["evolve", str(ROOT / "configs/quickstart.yaml"), "--out", str(out),
                     *itertools.chain.from_iterable(("--set", s) for s in (
                         "budget.train_env_steps=4000", "budget.test_episodes=10", "population=2", "generations=1",
                         "searcher.elites=1", "cluster.workers=0", "evaluation.rungs=[1.0]",
                         "evaluation.max_replicates=1", "evaluation.racing=null"))]) == 0
    return str(out)


@pytest.fixture(scope="module")
def made_run(tmp_path_factory):
    return run_dir(tmp_path_factory.mktemp("paths"))


# (name, argv with {} where the bad path goes, the kinds that are bad there, the field the message names)
READS = ["empty", "dot", "directory", "missing", "inside a file", "not text"]
WRITES = ["empty", "dot", "directory", "inside a file"]
DIRS_OUT = ["empty", "inside a file"]
RUN_DIRS = ["empty", "dot", "directory", "missing", "inside a file", "not text"]
ARGUMENTS = [
    ("lifetime --genome", ["lifetime", "--genome", "{}", "--suite", SUITE], READS, "--genome"),
    ("lifetime --suite", ["lifetime", "--genome", GENOME, "--suite", "{}"], READS, "--suite"),
    ("lifetime --save-weights", ["lifetime", "--genome", GENOME, "--suite", SUITE, "--save-weights", "{}"],
     ["empty", "dot", "directory", "inside a file"], "--save-weights"),
    ("evolve CONFIG", ["evolve", "{}"], READS, None),
    ("evolve --out", ["evolve", str(ROOT / "configs/quickstart.yaml"), "--out", "{}"], DIRS_OUT, "--out"),
    ("resume RUN_DIR", ["resume", "{}"], RUN_DIRS, None),
    ("inspect RUN_DIR", ["inspect", "{}"], RUN_DIRS, None),
    ("inspect --export", ["inspect", "{run}", "--export", "{}"], WRITES, "--export"),
    ("inspect --plot", ["inspect", "{run}", "--plot", "{}"], WRITES, "--plot"),
    ("report RUN_DIR", ["report", "{}"], RUN_DIRS, None),
    ("report -o", ["report", "{run}", "-o", "{}"], WRITES, "-o"),
    ("export RUN_DIR", ["export", "{}"], RUN_DIRS, None),
    ("export -o", ["export", "{run}", "-o", "{}"], DIRS_OUT, "-o"),
    ("validate SOURCE", ["validate", "{}", "--suite", SUITE, "--workers", "0"], RUN_DIRS, None),
    ("validate --suite", ["validate", GENOME, "--suite", "{}", "--workers", "0"], READS, "--suite"),
    ("validate --archive", ["validate", GENOME, "--suite", SUITE, "--workers", "0", "--archive", "{}"], WRITES,
     "--archive"),
    ("ablate SOURCE", ["ablate", "{}", "--suite", SUITE, "--workers", "0"], RUN_DIRS, None),
    ("experiment FILE", ["experiment", "{}"], READS, None),
    ("experiment --out", ["experiment", str(ROOT / "studies/inheritance/inheritance.yaml"), "--out", "{}"], DIRS_OUT,
     "--out"),
]


@pytest.mark.parametrize("name, argv, kinds, field", ARGUMENTS, ids=[a[0] for a in ARGUMENTS])
def test_path_arguments(tmp_path, capsys, made_run, name, argv, kinds, field):
    paths = bad_paths(tmp_path)
    for kind in kinds:
        bad = paths[kind]
        args = [a.replace("{run}", made_run) if a == "{run}" else (bad if a == "{}" else a) for a in argv]
        assert main(args) == 2, (name, kind)
        err = capsys.readouterr().err
        assert err.startswith("evo-fastslow: error: ") and err.count("\n") == 1, (name, kind, err)
        assert (bad or '""') in err, (name, kind, err)  # names the path
        if kind == "not text":  # read by the loader, which names the file it could not read
            assert "UTF-8 text" in err or "archive.sqlite" in err or "run directory" in err, (name, kind, err)
        elif field:
            assert f": {field}: " in err, (name, kind, err)  # and the argument


def _config(tmp: Path, **fields) -> Path:
    data = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    data.update(fields)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("field", ["suites", "seed_population", "experiment arm"])
def test_path_fields_of_configs(tmp_path, capsys, field):
    """A config field naming a path: the message names the config file and the field."""
    for kind, bad in bad_paths(tmp_path).items():
        if field == "suites":
            source, expect = _config(tmp_path, suites=[SUITE, bad]), "suites[1]"
            argv = ["evolve", str(source), "--out", str(tmp_path / "never")]
        elif field == "seed_population":
            source, expect = _config(tmp_path, seed_population=bad), "seed_population"
            argv = ["evolve", str(source), "--out", str(tmp_path / "never")]
        else:
            source, expect = tmp_path / "experiment.yaml", "arms[0].config"
            source.write_text(yaml.safe_dump({"schema": "evo_fastslow.experiment/1", "name": "x", "run_seeds": [0, 1],
                                              "arms": [{"name": "a", "config": bad}]}))
            argv = ["experiment", str(source), "--out", str(tmp_path / "never")]
        assert main(argv) == 2, (field, kind)
        err = capsys.readouterr().err
        assert err.count("\n") == 1, (field, kind, err)
        if kind == "not text":  # the file itself is named, as for any other error inside it
            assert bad in err and "UTF-8 text" in err, (field, kind, err)
        else:
            assert f"{source}: {expect}: " in err, (field, kind, err)
        assert not (tmp_path / "never").exists()  # nothing started, nothing written


@pytest.mark.parametrize("field", ["tensorboard", "mlflow"])
def test_tracking_directories(tmp_path, capsys, field):
    """Tracker directories (relative: inside the run directory) that cannot be directories are named."""
    paths = bad_paths(tmp_path)
    for kind in ("empty", "inside a file", "not text"):
        argv = ["evolve", str(ROOT / "configs/quickstart.yaml"), "--out", str(tmp_path / "never"), "--set",
                f"tracking.{field}={paths[kind] or chr(34) * 2}"]
        assert main(argv) == 2, (field, kind)
        err = capsys.readouterr().err
        assert f": tracking.{field}: " in err and err.count("\n") == 1, (field, kind, err)
        assert not (tmp_path / "never").exists()
