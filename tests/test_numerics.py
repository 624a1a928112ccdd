"""Numerics: a genome's numbers do not depend on the CPU that computes them (reproducible mode).

- det_math.h compiled for the baseline x86-64 and for the widest instruction set this CPU has gives
  the same bits (and compiled with contraction on, it would not: the guard matters).
- Short lifetimes of every reference genome, through both engines, and a short evolution's archive
  are identical under every dispatch setting of ATen, MKL, oneDNN and NumPy (subprocesses with the
  settings exported). With EVO_FASTSLOW_REFERENCE_DIR set (.ci/run sets it), the first run stores its
  results there and every later run, under other settings, must reproduce them exactly.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evo_fastslow.lifetime import run_lifetime
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime.fingerprint import fingerprint
from evo_fastslow.numerics.build import FLAGS

ROOT = Path(__file__).resolve().parents[1]
NUMERICS = ROOT / "evo_fastslow" / "numerics"
DISPATCH = {  # environment settings that change what the CPU libraries compute, as issue 11 lists them
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512_SKX AVX2 FMA3"},
}


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _compile_and_run(tmp_path: Path, name: str, *flags: str) -> str:
    binary = tmp_path / name
    subprocess.run(["g++", *flags, f"-I{NUMERICS}", str(ROOT / "tests/native/det_check.cpp"),
                    str(NUMERICS / "det_math.cpp"), "-o", str(binary)], check=True)
    return subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout


def test_det_math_gives_the_same_bits_on_every_instruction_set(tmp_path):
    flags = _cpu_flags()
    levels = ["x86-64"] + (["x86-64-v3"] if {"avx2", "fma", "bmi2"} <= flags else []) \
        + (["x86-64-v4"] if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags else [])
    outputs = {level: _compile_and_run(tmp_path, level, *FLAGS, f"-march={level}", "-DDET_NO_CLONES")
               for level in levels}
    outputs["clones"] = _compile_and_run(tmp_path, "clones", *FLAGS)  # as the extension is built
    hashes = {level: _line(out, "hash") for level, out in outputs.items()}
    assert len(set(hashes.values())) == 1, hashes
    assert all(_line(out, "blocked") == "blocked products equal the plain loops: yes" for out in outputs.values())
    errors = dict(zip(("exp", "log", "sigmoid"), map(float, _line(outputs["clones"], "worst_ulp").split()[2::2])))
    assert errors["exp"] <= 1.0 and errors["log"] <= 1.0 and errors["sigmoid"] <= 3.0, errors  # ulps
    if "x86-64-v3" in levels:  # with fused multiply-adds allowed where the source has none: other bits
        contracted = _compile_and_run(tmp_path, "contracted", *(f for f in FLAGS if f != "-ffp-contract=off"),
                                      "-march=x86-64-v3", "-DDET_NO_CLONES")
        assert _line(contracted, "hash") != hashes["x86-64"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "episodic_lstm"])
def test_a_core_step_in_one_call_gives_the_numpy_steps_bits(cell, monkeypatch):
    """The acting pass's one-call core steps (reproducible mode) perform the NumPy steps' operations in
    their order: equal bit for bit, on inputs spread over the activations' range."""
    import numpy as np

    from evo_fastslow.agents.cores import EpisodicLSTMCore, GRUCore, LSTMCore
    from evo_fastslow.numerics import ENV

    monkeypatch.setenv(ENV, "reproducible")
    rng = np.random.default_rng(7)
    batch, inputs, hidden = 13, 9, 21  # odd sizes: the vector loops' remainders too
    with torch.no_grad():
        core = {"lstm": LSTMCore, "gru": GRUCore, "episodic_lstm": EpisodicLSTMCore}[cell](inputs, hidden)
        for parameter in core.parameters():
            parameter.copy_(torch.from_numpy(rng.normal(0.0, 0.8, parameter.shape).astype(np.float32)))
        actor = core.actor()
        x = rng.normal(0.0, 2.0, (batch, inputs)).astype(np.float32)
        state = tuple(rng.normal(0.0, 1.5, (batch, hidden)).astype(np.float32) for _ in actor.initial_state(batch))
        extra = (rng.normal(0.0, 2.0, (batch, hidden)).astype(np.float32),) if cell == "episodic_lstm" else ()
        for _ in range(3):  # a few steps, each from the last
            h, new = actor.step(x, state, *extra)
            h_numpy, new_numpy = actor.numpy_step(x, state, *extra)
            assert h.tobytes() == h_numpy.tobytes()
            assert all(a.tobytes() == b.tobytes() for a, b in zip(new, new_numpy))
            state = new


def _line(output: str, first_word: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(first_word))


def _dispatch_results(extra: dict[str, str], what: str = "all") -> dict:
    env = {**os.environ, **extra}
    env.pop("EVO_FASTSLOW_KERNEL", None)
    out = subprocess.run([sys.executable, str(ROOT / "tests/dispatch_results.py"), what], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_the_dispatch_check_covers_every_reference_genome():
    from dispatch_results import GENOMES

    reference = json.loads((ROOT / "populations/reference.json").read_text())["genomes"]
    assert sorted(GENOMES) == sorted(genome["name"] for genome in reference)


def test_lifetimes_and_archives_are_the_same_under_every_dispatch_setting():
    here = _dispatch_results({})
    lifetimes = here["lifetimes"]
    assert all(v[0] == "ok" for v in lifetimes.values())
    for key in lifetimes:  # one arithmetic: the fused kernel and the Python path agree bit for bit
        if key.endswith("/fused"):
            assert lifetimes[key] == lifetimes[key.replace("/fused", "/python")], key
    for name, extra in DISPATCH.items():
        other = _dispatch_results(extra, "all" if name in ("aten-default", "mkl-sse4_2") else "lifetimes")
        assert other["lifetimes"] == lifetimes, name
        if "evolution" in other:
            assert other["evolution"] == here["evolution"], name
    reference_dir = os.environ.get("EVO_FASTSLOW_REFERENCE_DIR")
    if reference_dir:  # .ci/run: the first run records, runs under other settings must reproduce it
        path = Path(reference_dir) / "dispatch_results.json"
        if path.exists():
            assert json.loads(path.read_text()) == here, f"results differ from those recorded in {path}"
        else:
            path.write_text(json.dumps(here))


def test_the_fingerprint_is_the_same_under_every_dispatch_setting_and_names_the_mode():
    code = "import json; from evo_fastslow.lifetime.fingerprint import fingerprint; print(json.dumps(fingerprint()))"

    def probe(extra):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **extra}, capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout)

    here = fingerprint()
    assert here["mode"] == "reproducible" and not here["probe"].startswith("failed")
    for extra in DISPATCH.values():
        assert probe(extra)["digest"] == here["digest"]
    native = probe({"EVO_FASTSLOW_NUMERICS": "native"})
    assert native["mode"] == "native" and native["digest"] != here["digest"]


def test_a_lifetime_uses_one_thread_and_restores_the_callers(tiny_suite):
    seen = set()
    torch.set_num_threads(2)
    try:
        result = run_lifetime(load_genome("populations/reference.json:wang2016-lstm"), tiny_suite, seed=0,
                              progress=lambda done, total: seen.add(torch.get_num_threads()))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert seen == {1} and result.status == "ok"


def test_a_lifetime_is_the_same_whatever_the_callers_thread_count(tiny_suite):
    genome = load_genome("populations/reference.json:nec-dnd")  # the Python path, every kind of op
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        result = run_lifetime(genome, tiny_suite, seed=3).to_dict()
        result.pop("wall_seconds")
        results.append(result)
    torch.set_num_threads(1)
    assert results[0] == results[1]
