"""Searchers as plug-ins (evolution/searchers/): every shipped searcher keeps the interface; settings are
per searcher; Optuna's and nevergrad's optimisers inside the harness give one archive on 1 or 2 workers,
with random result delays and after SIGKILL + resume; run directories made before the interface resume."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.loop import Run
from evo_fastslow.evolution.searchers.check import SearcherContractError, check_searcher
from evo_fastslow.evolution.searchers.registry import SHIPPED, searcher_class
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.suite import load_suite
from runs import kill_after_evaluations, snapshot

ROOT = Path(__file__).resolve().parents[1]
SPACE = SEARCH_SPACE.restrict(fixed={"episodic_memory": "off", "encoder": "none", "intrinsic": "none"})
TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=4", "generations=3",
        "search_space.ranges.episodes_per_update=[16, 32]", "search_space.ranges.hidden_size=[8, 16]"]


@pytest.mark.parametrize("name", list(SHIPPED))
def test_every_shipped_searcher_keeps_the_interface(name):
    """Valid genomes and the same proposals from the same seed (check_searcher); the seed genomes first
    (CMA-ES and SNES start their distribution at the seeds' mean instead)."""
    seeds = [SPACE.default(), SPACE.default().with_genes(core="gru", hidden_size=32)]
    settings = {"name": name, **({"lag": 2} if name in ("aging", "map-elites", "tpe", "de", "ngopt") else {})}
    suites = [load_suite(ROOT / "fitness" / "bandit-independent.yaml")] if name == "nsga2" else []
    done = check_searcher(searcher_class(name), settings, space=SPACE, seeds=seeds, suites=suites)
    assert len(done) == 24
    if name not in ("cmaes", "snes"):
        assert [(c.genome, c.origin) for c, _ in done[:2]] == [(g, "seeded") for g in seeds]
    assert len({c.genome for c, _ in done}) > 12  # it searches: most proposals differ


def test_check_searcher_catches_a_searcher_drawing_from_global_randomness():
    import numpy as np

    from evo_fastslow.evolution.searchers.base import Candidate

    class Careless:
        style = "generational"

        def __init__(self, config, context):
            self.context = context

        def ask(self, generation):
            return [Candidate(self.context.space.decode(np.random.random(len(self.context.space))), "random")
                    for _ in range(self.context.popsize)]

        def tell(self, generation, results):
            pass

    with pytest.raises(SearcherContractError, match="proposed differently"):
        check_searcher(Careless, {"name": "careless"}, space=SPACE)


@pytest.mark.parametrize("sets, field, words", [
    (["searcher={name: ga, lag: 3}"], "searcher.lag", "a field searcher ga does not take"),
    (["searcher={name: tpe, elites: 2}"], "searcher.elites", "a field searcher tpe does not take"),
    (["searcher={name: de, mode: sometimes}"], "searcher.mode", "'steady' or 'generational'"),
    (["searcher={name: optuna, sampler: NoSuchSampler}"], "searcher.sampler", "a sampler class of optuna.samplers"),
    (["searcher={name: optuna, options: {seed: 3}}"], "searcher.options", "derived from the run seed"),
    (["searcher={name: nevergrad, optimizer: NoSuchOptimizer}"], "searcher.optimizer", "nevergrad.optimizers.registry"),
    (["searcher={name: hillclimb}"], "searcher.name", "an import path module:Class or an entry point"),
    (["searcher={name: 'nowhere.search:Searcher'}"], "searcher.name", "module 'nowhere.search' cannot be imported"),
    (["searcher={name: 'evo_fastslow.genome:Genome'}"], "searcher.name", "style = 'generational' or 'steady'"),
    (["searcher={name: cmaes}", "inheritance.mode=lamarckian"], "(top level)", "inheritance: darwinian with searcher"),
    (["searcher={name: aging, lag: 17}"], "(top level)", "searcher.lag must be at most population"),
])
def test_bad_searcher_settings_exit_2_naming_the_field(sets, field, words):
    args = [a for s in sets for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", *args,
                           "--out", "/nonexistent/never"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"configs/quickstart.yaml: {field}: " in proc.stderr and words in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["ga", "aging", "guided", "map-elites", "nsga2"])
def test_a_latin_hypercube_first_population_covers_every_gene_evenly(name):
    """population 6 after one seed genome: 5 random genomes, one in each fifth of every numeric gene's
    range; every choice of each categorical gene at least once, the counts apart by at most 1 (2 choices) or 2
    (3 choices), where independent draws leave a choice out of some run seeds (here: at least one of 12)."""
    from collections import Counter

    from evo_fastslow.genes import Categorical, Float

    suites = [load_suite(ROOT / "fitness" / "bandit-independent.yaml")] if name == "nsga2" else []
    seed_genome = SPACE.default()
    floats = [n for n in SPACE.free if isinstance(SPACE.genes[n], Float)]
    categoricals = [n for n in SPACE.free if isinstance(SPACE.genes[n], Categorical)]
    left_out = {}
    for design in ("latin-hypercube", "random"):
        left_out[design] = 0
        for run_seed in range(12):
            settings = {"name": name, "initial_design": design,
                        **({"lag": 2} if name not in ("ga", "nsga2") else {})}
            done = check_searcher(searcher_class(name), settings, space=SPACE, popsize=6, generations=1,
                                  seed=run_seed, seeds=[seed_genome], suites=suites)
            assert (done[0][0].genome, done[0][0].origin) == (seed_genome, "seeded")
            random_ones = [c.genome for c, _ in done[1:6]]
            assert all(c.origin == "random" for c, _ in done[1:6])
            for gene in categoricals:
                counts = Counter(g[gene] for g in random_ones)
                choices = SPACE.genes[gene].choices
                left_out[design] += len(counts) < min(len(choices), 5)
                if design == "latin-hypercube":
                    assert max(counts.values()) - min(counts.get(c, 0) for c in choices) <= 1 + (5 % len(choices) != 0), \
                        (gene, counts)
            if design == "latin-hypercube":
                for gene in floats:
                    strata = sorted(min(int(SPACE.genes[gene].encode(g[gene]) * 5), 4) for g in random_ones)
                    assert strata == [0, 1, 2, 3, 4], (gene, strata)
    assert left_out["latin-hypercube"] == 0 and left_out["random"] > 0, left_out


def test_switching_searcher_by_name_keeps_the_settings_it_takes_too():
    """quickstart's ga has mutation_rate 0.2, a Latin-hypercube start and elites 2: aging keeps the first two and
    has no elites."""
    config = load_config(ROOT / "configs" / "quickstart.yaml", ["searcher.name=aging", "searcher.lag=3"])
    assert config.searcher.model_dump() == {"name": "aging", "initial_design": "latin-hypercube", "mutation_rate": 0.2,
                                            "mutation_scale": 0.1, "tournament_size": 3, "lag": 3}
    with pytest.raises(InputError, match="searcher.elites: a field searcher aging does not take"):
        load_config(ROOT / "configs" / "quickstart.yaml", ["searcher.name=aging", "searcher.elites=1"])


@pytest.mark.parametrize("package, name", [("optuna", "tpe"), ("nevergrad", "de")])
def test_a_searcher_whose_package_is_missing_names_the_extra(package, name):
    """Stand-in for an environment without the package: it is hidden from imports in the subprocess."""
    code = (f"import sys; sys.modules[{package!r}] = None\nfrom evo_fastslow.cli import main\n"
            f"sys.exit(main(['evolve', 'configs/quickstart.yaml', '--set', 'searcher={{name: {name}}}', "
            "'--out', '/nonexistent/never']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line
    assert f"pip install 'evo-fastslow[{package}]'" in proc.stderr, proc.stderr


def _delayed(genes, suites, seed, task_seed, timeout):
    """The real evaluation, then a random delay: results arrive in another order each time."""
    outcome = evaluate(genes, suites, seed, task_seed, timeout)
    time.sleep(random.Random().uniform(0.0, 0.3))
    return outcome


LIBRARIES = {"tpe": "searcher={name: tpe, lag: 2, n_startup_trials: 4}",
             "de": "searcher={name: de, lag: 2}",
             "ngopt": "searcher={name: ngopt, mode: generational}",
             "guided": "searcher={name: guided, lag: 2, candidates: 16, trees: 16}"}


@pytest.mark.parametrize("name", list(LIBRARIES))
def test_library_searchers_give_one_archive_on_one_or_two_workers_with_random_delays(tmp_path, name):
    runs = {}
    for run, workers, fn in (("in-process", 0, evaluate), ("one", 1, evaluate), ("two-delayed", 2, _delayed)):
        config = load_config(ROOT / "configs" / "quickstart.yaml", [*TINY, LIBRARIES[name], f"cluster.workers={workers}"])
        Run(config, tmp_path / run, evaluate_fn=fn).start()
        runs[run] = snapshot(tmp_path / run)
    first = runs["in-process"]
    assert all(row[6] == "ok" for row in first[:12])
    assert {row[4] for row in first[4:12]} == ({"mutation", "crossover"} if name == "guided" else {"sampled"})
    assert runs["one"] == first and runs["two-delayed"] == first
    with Archive(tmp_path / "two-delayed" / "archive.sqlite") as archive:
        recorded = archive.meta("searcher")
    assert recorded["name"] == name and recorded["library"].split()[0] in ("optuna", "nevergrad", "scikit-learn")


@pytest.mark.parametrize("name", list(LIBRARIES))
def test_library_searchers_killed_and_resumed_give_the_same_archive(tmp_path, name):
    overrides = [*TINY, LIBRARIES[name], "cluster.workers=0", "budget.train_env_steps=24000"]
    Run(load_config(ROOT / "configs" / "quickstart.yaml", overrides), tmp_path / "reference").start()
    killed = tmp_path / "killed"
    sets = [a for o in overrides for a in ("--set", o)]
    proc = subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml",
                             "--out", str(killed), *sets], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT)
    interrupted = kill_after_evaluations(proc, killed, 6)
    assert 6 <= interrupted < 12, "the kill must land in the middle of the run"
    assert main(["resume", str(killed)]) == 0
    assert snapshot(killed) == snapshot(tmp_path / "reference")


@pytest.mark.parametrize("searcher", ["ga", "aging"])
def test_a_run_directory_made_before_searcher_plugins_resumes_as_a_new_run_would_go_on(tmp_path, searcher):
    """tests/data/made-before-searcher-plugins/: 2 generations made by the code before this interface (one
    flat `searcher:` bag in its resolved config and archive). Extended to 3 generations and resumed, it
    equals a run of 3 generations made now."""
    old = tmp_path / "old"
    shutil.copytree(ROOT / "tests" / "data" / "made-before-searcher-plugins" / searcher, old)
    config = yaml.safe_load((old / "config.yaml").read_text())
    config["generations"] = 3
    (old / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["resume", str(old)]) == 0
    sets = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=3", "generations=3",
            "cluster.workers=0", "search_space.ranges.hidden_size=[8,16]",
            "search_space.ranges.episodes_per_update=[16, 32]", "evaluation.retest=null",
            "searcher={name: ga, elites: 1, mutation_rate: 0.2}" if searcher == "ga" else "searcher={name: aging, lag: 2}"]
    Run(load_config(ROOT / "configs" / "quickstart.yaml", sets), tmp_path / "new").start()
    assert snapshot(old) == snapshot(tmp_path / "new") and len(snapshot(old)) > 9


def test_ngopt_survives_its_metamodel_under_this_numpy():
    """Past about a hundred results NGOpt consults a metamodel whose float() of a one-element array numpy 2.4
    refuses; the adapter hands nevergrad the MetaModelFailure it falls back from (nevergrad_optimizers.py)."""
    from evo_fastslow.evolution.searchers.base import SearchContext
    from evo_fastslow.evolution.searchers.check import drive, synthetic_objective
    from evo_fastslow.evolution.searchers.registry import settings_of

    space = load_config(ROOT / "configs" / "quickstart.yaml").space()
    noisy, _ = synthetic_objective(space, 0)
    context = SearchContext(space, 16, 12, 0, [])
    searcher = searcher_class("ngopt")(settings_of({"name": "ngopt", "budget": 192}), context)
    assert len(drive(searcher, context, noisy, 192)) == 192
