import pytest
import torch

from evo_fastslow.suite import FitnessSuite, load_suite

torch.set_num_threads(1)


def small_suite(name: str = "bandit-independent", steps: int = 64_000, episodes: int = 200) -> FitnessSuite:
    """A shipped suite with a small budget: fast enough for tests of mechanics, not of learning."""
    suite = load_suite(f"fitness/{name}.yaml")
    return suite.model_copy(update={"lifetime": suite.lifetime.model_copy(update={"train_env_steps": steps}),
                                    "test": suite.test.model_copy(update={"episodes": episodes})})


@pytest.fixture
def tiny_suite() -> FitnessSuite:
    return small_suite()
