"""The episodic store: k-nearest reads with the inverse-distance kernel, first-in-first-out replacement."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_fastslow.agents.memory import EpisodicStore


def _brute_force(keys, values, query, k, delta):
    d2 = ((keys - query) ** 2).sum(-1)
    nearest = np.argsort(d2, kind="stable")[:k]
    w = 1.0 / (d2[nearest] + delta)
    return (w[:, None] * values[nearest]).sum(0) / w.sum()


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.integers(1, 6), st.integers(0, 10_000), st.sampled_from([1e-3, 1.0, 10.0]))
def test_read_is_the_kernel_weighted_mean_of_the_k_nearest(n, k, seed, delta):
    rng = np.random.default_rng(seed)
    store = EpisodicStore(batch=3, capacity=32, key_dim=4, value_dim=2, k=k, delta=delta)
    keys = rng.normal(size=(n, 3, 4)).astype(np.float32)
    values = rng.normal(size=(n, 3, 2)).astype(np.float32)
    for key, value in zip(keys, values):
        store.write(key, value)
    query = rng.normal(size=(3, 4)).astype(np.float32)
    read, found = store.read(query)
    assert (found == 1).all()
    for b in range(3):
        np.testing.assert_allclose(read[b], _brute_force(keys[:, b], values[:, b], query[b], min(k, n), delta),
                                   rtol=1e-4, atol=1e-5)


def test_empty_memory_reads_nothing_and_full_memory_forgets_the_oldest():
    store = EpisodicStore(batch=1, capacity=3, key_dim=1, value_dim=1, k=1)
    read, found = store.read(np.zeros((1, 1), np.float32))
    assert found[0] == 0 and read[0, 0] == 0
    for i in range(5):  # keys 0..4; capacity 3 keeps 2, 3, 4
        store.write(np.array([[float(i)]], np.float32), np.array([[10.0 * i]], np.float32))
    assert store.size == 3 and sorted(store.keys[0, :, 0]) == [2.0, 3.0, 4.0]
    read, _ = store.read(np.array([[0.0]], np.float32))  # the nearest left is key 2
    assert read[0, 0] == 20.0
