"""`cmaes`, `snes`: EvoTorch's CMA-ES and SNES over the [0,1]^d encoding.

EvoTorch's distribution searchers refuse bounded problems, so they search R^d from a start in the cube
and their samples are reflected into [0,1]^d before decoding (smooth, unlike clamping). Its `step()`
evaluates through the problem's batch hook; `ask`/`tell` run that step in a thread of its own which waits
inside the hook until the generation's results are told (`LibraryStep`): one searcher, the same numbers
as calling `step()` with an evaluator inside.
"""

from __future__ import annotations

import logging
import queue
import threading
import warnings
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch
from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, SearcherSettings, parentless
from evo_fastslow.genes import reflect
from evo_fastslow.seeds import derive_seed


class EvoTorchSettings(SearcherSettings):
    stdev_init: float = Field(0.25, gt=0, description="initial step size on [0,1]^d")

    def check(self, run: Any) -> None:
        parentless(run, self.name)


class LibraryStep:
    """A library's `step()` that evaluates through a callback, as ask/tell: `ask()` starts the step in a
    thread and returns the batch the callback receives; `tell(values)` returns them from the callback and
    waits for the step to finish. Only one of the two threads runs at a time."""

    def __init__(self, step: Callable[[], None]):
        self.step = step
        self.asked: queue.Queue = queue.Queue(1)
        self.told: queue.Queue = queue.Queue(1)
        self.thread: threading.Thread | None = None

    def callback(self, batch: Any) -> Any:
        self.asked.put(("batch", batch))
        return self.told.get()

    def _run(self) -> None:
        try:
            self.step()
            self.asked.put(("done", None))
        except BaseException as err:  # noqa: BLE001 - handed to the caller of ask/tell
            self.asked.put(("error", err))

    def ask(self) -> Any:
        self.thread = threading.Thread(target=self._run, daemon=True, name="library-step")
        self.thread.start()
        kind, item = self.asked.get()
        if kind != "batch":
            raise RuntimeError("the library's step evaluated nothing") from (item if kind == "error" else None)
        return item

    def tell(self, values: Any) -> None:
        self.told.put(values)
        kind, item = self.asked.get()
        assert self.thread is not None
        self.thread.join()
        if kind == "error":
            raise item
        if kind != "done":
            raise RuntimeError("the library's step asked for a second batch in one generation")


class EvoTorchSearcher:
    """CMA-ES or SNES (the class attribute `algorithm_name`)."""
    style: ClassVar[str] = "generational"
    Config: ClassVar[type] = EvoTorchSettings
    algorithm_name: ClassVar[str] = ""

    def __init__(self, config: EvoTorchSettings, context: SearchContext):
        from evotorch import Problem
        from evotorch import algorithms

        logging.getLogger("evotorch").setLevel(logging.WARNING)
        space, self.context = context.space, context
        bridge = self.bridge = LibraryStep(self._step)

        class GenomeProblem(Problem):
            def _evaluate_batch(self, batch: Any) -> None:
                values = bridge.callback(batch.values.detach().cpu().numpy().astype(np.float64))
                batch.set_evals(torch.tensor(values, dtype=batch.values.dtype))

        self.problem = GenomeProblem("max", solution_length=len(space), initial_bounds=(0.0, 1.0),
                                     seed=derive_seed(context.seed, "evotorch") % 2**31, dtype=torch.float64)
        seeds = context.seeds
        center = np.mean([space.encode(g) for g in seeds], axis=0) if seeds else np.full(len(space), 0.5)
        with _quiet_evotorch():
            self.algorithm = getattr(algorithms, self.algorithm_name)(
                self.problem, stdev_init=config.stdev_init, popsize=context.popsize, center_init=torch.tensor(center))

    def _step(self) -> None:
        with _quiet_evotorch():
            self.algorithm.step()

    def ask(self, generation: int) -> list[Candidate]:
        values = reflect(self.bridge.ask())
        return [Candidate(self.context.space.decode(v), "sampled") for v in values]

    def tell(self, generation: int, results: list[Result]) -> None:
        self.bridge.tell([r.value for r in results])


class CMAES(EvoTorchSearcher):
    """EvoTorch's CMA-ES over the [0,1]^d encoding (samples reflected into the cube)."""
    algorithm_name = "CMAES"


class SNES(EvoTorchSearcher):
    """EvoTorch's separable natural evolution strategy over the [0,1]^d encoding."""
    algorithm_name = "SNES"


@contextmanager
def _quiet_evotorch() -> Iterator[None]:
    """EvoTorch copy-constructs a tensor each generation and warns; silence exactly that, here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="To copy construct from a tensor", category=UserWarning)
        yield
