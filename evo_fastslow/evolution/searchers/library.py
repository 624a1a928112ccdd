"""What the searchers wrapping an outside ask/tell library share: steady or generational asks under the
lag rule, the seed genomes first, and a per-index record of what was asked.

The library is asked and told in index order only: steady-state, `ask(i)` after results 0 .. i - lag were
told (lag - 1 asks pending, as on a cluster); generational, a whole generation asked, then told. Its own
random state is seeded from the run seed, so a resumed run replays it exactly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, SearcherSettings, parentless


class LibrarySettings(SearcherSettings):
    mode: Literal["steady", "generational"] = Field(
        "steady", description="steady: ask genome i once the results 0 .. i - lag are told (the library decides "
                              "every proposal, with lag - 1 pending); generational: ask a whole generation, then "
                              "tell it")
    lag: int = Field(4, ge=1, le=100_000, description="steady mode: proposal i sees the results of 0 .. i - lag; about twice "
                                          "the number of workers keeps them busy")

    def check(self, run: Any) -> None:
        parentless(run, self.name)
        if self.mode == "steady" and self.lag > run.population:
            raise ValueError("searcher.lag must be at most population")


class LibrarySearcher:
    """Subclasses say how to ask the library for one point and tell it one value (`_ask_point`,
    `_tell_point`); points are vectors in [0,1]^d or anything `_genome` decodes."""
    style = "steady"  # the instance's mode decides (a class default for the registry's check)

    def __init__(self, config: LibrarySettings, context: SearchContext):
        self.config, self.context = config, context
        self.style, self.lag = config.mode, config.lag
        self.asked: dict[int, Any] = {}  # index -> the library's own handle of that ask (trial, candidate)

    def ask(self, key: int) -> Any:
        if self.style == "generational":
            first = key * self.context.popsize
            return [self._ask_one(first + i) for i in range(self.context.popsize)]
        return self._ask_one(key)

    def tell(self, key: int, results: Any) -> None:
        for result in (results if self.style == "generational" else [results]):
            self._tell_point(self.asked.pop(result.index), result)

    def _ask_one(self, index: int) -> Candidate:
        handle, genome = self._ask_point(index)
        self.asked[index] = handle
        return Candidate(genome, "seeded" if index < min(len(self.context.seeds), self.context.popsize)
                         else "sampled")

    def _ask_point(self, index: int) -> tuple[Any, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _tell_point(self, handle: Any, result: Result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
