import pytest
import torch

from evo_fastslow.suite import FitnessSuite
from references import small_suite

torch.set_num_threads(1)


@pytest.fixture
def tiny_suite() -> FitnessSuite:
    return small_suite()
