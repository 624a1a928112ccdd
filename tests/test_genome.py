"""Genome encoding, defaults and genome files."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_fastslow.errors import InputError
from evo_fastslow.genome import (SEARCH_SPACE, Bool, Categorical, Float, Genome, Integer, SearchSpace,
                                 load_genome, load_genomes, save_genomes)

# A space with every gene kind, so that kinds the shipped space does not use yet are held to the contract.
ALL_KINDS = SearchSpace([*SEARCH_SPACE.genes.values(),
                         Bool("flag", "a boolean gene", default_value=True),
                         Float("linear", "a linear float", low=-2.0, high=3.0, default_value=0.5),
                         Integer("count", "a linear integer", low=0, high=7, default_value=3)])


def _value(gene):
    if isinstance(gene, Categorical):
        return st.sampled_from(gene.choices)
    if isinstance(gene, Bool):
        return st.booleans()
    if isinstance(gene, Integer):
        return st.integers(gene.low, gene.high)
    return st.floats(gene.low, gene.high).map(gene.validate)


genomes = st.fixed_dictionaries({n: _value(g) for n, g in ALL_KINDS.genes.items()}).map(Genome)


@given(genomes)
def test_decode_inverts_encode(genome):
    vector = ALL_KINDS.encode(genome)
    assert ((vector >= 0) & (vector <= 1)).all()
    assert ALL_KINDS.decode(vector) == genome


@given(st.lists(st.floats(0.0, 1.0), min_size=len(ALL_KINDS), max_size=len(ALL_KINDS)))
def test_every_point_of_the_cube_decodes_to_a_valid_genome(vector):
    genome = ALL_KINDS.decode(vector)
    assert ALL_KINDS.complete(dict(genome.genes)) == genome


@pytest.mark.parametrize("name", list(ALL_KINDS.genes))
def test_decoding_covers_the_whole_range(name):
    gene = ALL_KINDS.genes[name]
    values = {gene.decode(i / 100_000) for i in range(100_001)}
    if isinstance(gene, Categorical):
        assert values == set(gene.choices)
    elif isinstance(gene, Bool):
        assert values == {False, True}
    elif isinstance(gene, Integer):
        assert values == set(range(gene.low, gene.high + 1))
    else:
        assert min(values) == gene.low and max(values) == gene.high
    assert gene.validate(gene.default) == gene.default


def test_integer_bins_are_equal_width_on_their_scale():
    gene = Integer("n", "", low=1, high=4, default_value=1)
    counts = [sum(gene.decode((i + 0.5) / 4000) == v for i in range(4000)) for v in range(1, 5)]
    assert max(counts) - min(counts) <= 1


def _write(tmp_path, genomes, schema="evo_fastslow.genomes/1"):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"schema": schema, "genomes": genomes}))
    return path


def test_missing_genes_take_defaults_and_files_round_trip(tmp_path):
    path = _write(tmp_path, [{"name": "a", "genes": {"hidden_size": 32}, "provenance": {"source": "test"}}])
    genome = load_genome(f"{path}:a")
    assert genome["hidden_size"] == 32 and genome["core"] == SEARCH_SPACE.genes["core"].default
    out = tmp_path / "out.json"
    save_genomes(out, [genome])
    again = load_genome(str(out))
    assert again == genome and again.provenance == {"source": "test"}


@pytest.mark.parametrize("genes, field, expected", [
    ({"cores": "lstm"}, "gene 'cores'", "known gene"),
    ({"hidden_size": 100000}, "gene 'hidden_size'", "[8, 256]"),
    ({"hidden_size": "big"}, "gene 'hidden_size'", "an integer"),
    ({"core": "transformer"}, "gene 'core'", "one of"),
    ({"learning_rate": -1.0}, "gene 'learning_rate'", "a number in"),
])
def test_bad_genes_name_file_genome_and_gene(tmp_path, genes, field, expected):
    path = _write(tmp_path, [{"name": "bad-one", "genes": genes}])
    with pytest.raises(InputError) as err:
        load_genomes(path)
    message = str(err.value)
    assert str(path) in message and "'bad-one'" in message and field in message and expected in message


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="schema"):
        load_genomes(_write(tmp_path, [{"name": "a"}], schema="other/1"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="valid JSON"):
        load_genomes(broken)
    two = _write(tmp_path, [{"name": "a"}, {"name": "b"}])
    with pytest.raises(InputError, match="FILE:NAME"):
        load_genome(str(two))
    with pytest.raises(InputError, match="one of a, b"):
        load_genome(f"{two}:c")


def _out_of_range_gene() -> None:
    SEARCH_SPACE.complete({"episodes_per_update": 3}, name="g")


def test_an_input_error_raised_in_a_worker_process_comes_back_whole():
    """A bad gene found in a child process (a process pool, as in a notebook's parallel probe) reaches the
    parent as the same InputError: file, field and what was expected. Pickled by message alone, it broke
    the pool instead."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        with pytest.raises(InputError) as raised:
            pool.submit(_out_of_range_gene).result()
    assert raised.value.field == "genome 'g', gene 'episodes_per_update'"
    assert "an integer in [4, 256], got 3" in raised.value.expected
