"""Polyak averaging (lifetime/averaging.py, gene weight_averaging): the average is the exponential moving
average of the weights after every optimizer step, held to a float64 reference; a lifetime with it is the
same in both engines (bit for bit in the reproducible numerics mode); at its default, and at a time
constant of one step, it changes nothing, and a genome keeps the identity it had before the gene existed."""

import numpy as np
import pytest
import torch

from evo_fastslow.errors import InputError
from evo_fastslow.evolution.policy.trials import subject_key
from evo_fastslow.genome import LATER_GENES, SEARCH_SPACE, identity_genes
from evo_fastslow.lifetime import run_lifetime
from evo_fastslow.lifetime.averaging import WeightAverage
from evo_fastslow.lifetime.run import train_and_test
from references import KNOBS, REFERENCE, without_time


def test_the_average_is_the_moving_average_of_the_weights():
    """Against a float64 NumPy transcription of a_1 = w_1, a_t = a_(t-1) + rate (w_t - a_(t-1)), 1e-6
    absolute (the average is kept in float32)."""
    rng = np.random.default_rng(0)
    params = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(5))]
    average, expected = WeightAverage(params, 0.1), None
    for _ in range(200):
        with torch.no_grad():
            for p in params:
                p.add_(torch.from_numpy(rng.normal(0.0, 0.1, p.shape).astype(np.float32)))
        average.update()
        now = [p.detach().double().numpy().copy() for p in params]
        expected = now if expected is None else [e + 0.1 * (w - e) for e, w in zip(expected, now)]
    last = [p.detach().clone() for p in params]
    average.load()
    for p, e, w in zip(params, expected, last):
        np.testing.assert_allclose(p.detach().double().numpy(), e, atol=1e-6, rtol=0)
        assert not torch.equal(p.detach(), w)  # the average, not the last weights


def test_the_rate_is_one_over_the_time_constant():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert WeightAverage.for_lifetime(params, 0.0, 1000) is None
    assert WeightAverage.for_lifetime(params, 0.02, 45_000).rate == pytest.approx(1 / 900)
    assert WeightAverage.for_lifetime(params, 0.02, 10).rate == 1.0  # a time constant under one step: the last
    with pytest.raises(ValueError, match="averaging rate"):
        WeightAverage(params, 0.0)


def test_an_averaged_lifetime_is_the_same_in_both_engines(tiny_suite, monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", "reproducible")
    genome = REFERENCE.with_genes(episodes_per_update=16, weight_averaging=0.2, truncation=7, **KNOBS)
    fast = run_lifetime(genome, tiny_suite, seed=7)
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    slow = run_lifetime(genome, tiny_suite, seed=7)
    assert (fast.engine, slow.engine) == ("fused", "python")
    assert without_time(fast) == without_time(slow)


def test_the_average_is_tested_and_kept_and_a_one_step_average_is_the_last_weights(tiny_suite):
    plain, last = train_and_test(REFERENCE.with_genes(episodes_per_update=16), tiny_suite, seed=3)
    averaged, kept = train_and_test(REFERENCE.with_genes(episodes_per_update=16, weight_averaging=0.3),
                                    tiny_suite, seed=3)
    one_step, same = train_and_test(REFERENCE.with_genes(episodes_per_update=16, weight_averaging=1e-6),
                                    tiny_suite, seed=3)
    assert without_time(last) == without_time(same)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), one_step.parameters()))
    # training is the same (the average never feeds back), the tested agent is not
    assert kept.learning_curve == last.learning_curve and kept.test_regret != last.test_regret
    assert not all(torch.equal(a, b) for a, b in zip(plain.parameters(), averaged.parameters()))


def test_a_later_gene_at_its_default_keeps_a_genomes_identity():
    """Trial subjects (and the archive digests populations/evolved.json records) hash the genes without
    the genes added since, where those are at their default."""
    genes = dict(REFERENCE.genes)
    before = {name: value for name, value in genes.items() if name not in LATER_GENES}
    assert identity_genes(genes) == before
    assert subject_key(genes, "w") == subject_key(before, "w")
    changed = {**genes, "weight_averaging": 0.05}
    assert identity_genes(changed) == changed and subject_key(changed, "w") != subject_key(genes, "w")
    for name in LATER_GENES:
        assert name in SEARCH_SPACE.genes


def test_an_average_out_of_range_is_refused_by_name():
    with pytest.raises(InputError, match="weight_averaging"):
        REFERENCE.with_genes(weight_averaging=0.9)
