"""Settings every test shares: one torch thread (the 2-core CI machine runs tests beside nothing else, and one
thread keeps float reductions in one order) and a quiet, non-interactive matplotlib."""

import matplotlib
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread_headless():
    matplotlib.use("Agg")
    torch.set_num_threads(1)
    yield
