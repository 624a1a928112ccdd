"""`search_space.search` names the searched genes: every other gene stays at its default or `fixed` value,
so a gene added to the project never changes what an old config does (issue 23, item 3)."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from evo_fastslow.archive import Archive
from evo_fastslow.errors import ConfigWarning, InputError
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run
from evo_fastslow.genes import Float
from evo_fastslow.genome import SEARCH_SPACE

from runs import TINY

ROOT = Path(__file__).resolve().parents[1]
OLD_FORM = {  # configs/quickstart.yaml's search space before `search` existed: every gene it holds, listed
    "fixed": {"episodic_memory": "off", "memory_capacity": 256, "memory_k": 8, "memory_key": "observation",
              "memory_write": "episode_end", "memory_delta": 0.001, "intrinsic": "none", "intrinsic_weight": 0.1,
              "encoder": "none", "encoder_width": 32},
    "ranges": {"hidden_size": [16, 64], "episodes_per_update": [16, 64], "learning_rate": [0.001, 0.01]}}


def _old_form_config(tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    data["search_space"] = OLD_FORM
    data["suites"] = [str(ROOT / s) for s in data["suites"]]
    path = tmp / "old-form.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _evolve(config_path: Path, run_dir: Path) -> list[tuple]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        config = load_config(config_path, [*TINY, "cluster.workers=0"])
    Run(config, run_dir).start()
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot() + archive.trial_snapshot()


def _without(snapshot: list[tuple], gene: str) -> list[tuple]:
    """The snapshot with `gene` dropped from every genome (and trials keyed by what they computed)."""
    genomes = [(*row[:3], json.dumps({k: v for k, v in json.loads(row[3]).items() if k != gene}, sort_keys=True),
                *row[4:]) for row in snapshot if len(row) == 19]
    trials = sorted(row[3:] for row in snapshot if len(row) != 19)
    return genomes + trials


def test_old_form_warns_which_genes_it_searches_implicitly(tmp_path):
    with pytest.warns(ConfigWarning, match="searches core, hidden_size, meta_inputs, .*grad_clip implicitly"):
        load_config(_old_form_config(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_config(ROOT / "configs/quickstart.yaml")  # the shipped configs name their genes: no warning


def test_named_and_old_form_give_the_same_archive_and_an_added_gene_changes_neither(tmp_path, monkeypatch):
    named = _evolve(ROOT / "configs/quickstart.yaml", tmp_path / "named")
    old = _evolve(_old_form_config(tmp_path), tmp_path / "old")
    assert named == old and len(named) > 6

    # a gene added to the project, in the middle of the gene order, with a default no lifetime reads
    genes = dict(SEARCH_SPACE.genes)
    names = list(genes)
    added = Float("added_gene", "a gene added after these configs were written", low=0.1, high=10.0,
                  default_value=1.0, log=True)
    extended = {n: genes[n] for n in names[:5]} | {"added_gene": added} | {n: genes[n] for n in names[5:]}
    monkeypatch.setattr(SEARCH_SPACE, "genes", extended)
    monkeypatch.setattr(SEARCH_SPACE, "free", [n for n in extended if n not in SEARCH_SPACE.fixed])
    for config, before in (("configs/quickstart.yaml", named), (None, old)):
        path = ROOT / config if config else _old_form_config(tmp_path)
        assert "added_gene" not in load_config(path).space().free  # not searched: held at its default
        after = _evolve(path, tmp_path / f"added-{bool(config)}")
        assert all(json.loads(row[3])["added_gene"] == 1.0 for row in after if len(row) == 19)
        assert _without(after, "added_gene") == _without(before, "added_gene")
    # a config that names it searches it
    data = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    data["search_space"]["search"].append("added_gene")
    data["suites"] = [str(ROOT / s) for s in data["suites"]]
    (tmp_path / "with-added.yaml").write_text(yaml.safe_dump(data))
    assert "added_gene" in load_config(tmp_path / "with-added.yaml").space().free
    # a gene named and fixed is held: how a shipped config's gene is pinned from the command line
    pinned = load_config(ROOT / "configs/quickstart.yaml", ["search_space.fixed.core=gru"]).space()
    assert "core" not in pinned.free and pinned.fixed["core"] == "gru"


@pytest.mark.parametrize("search_space, field", [
    ({"search": ["core", "no_such_gene"]}, "search_space: search[1]: a known gene"),
    ({"search": ["core", "core"]}, "search_space: search[1]: each gene once"),
    ({"search": []}, "search_space.search: "),
    ({"search": ["core"], "choices": {"meta_inputs": ["reward"]}}, "search_space: choices.meta_inputs: a gene named"),
    ({"search": ["core"], "ranges": {"hidden_size": [8, 16]}}, "search_space: ranges.hidden_size: a gene named"),
])
def test_bad_search_lists_name_the_field(tmp_path, search_space, field):
    data = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    data["search_space"] = search_space
    data["suites"] = [str(ROOT / s) for s in data["suites"]]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {field}"), str(err.value)
    proc = subprocess.run(["evo-fastslow", "evolve", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and field in proc.stderr
