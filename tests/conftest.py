"""Shared pytest setup: one torch thread per worker, a headless matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def tmp_out(tmp_path):
    """A fresh output folder for experiments and saved models."""
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.fixture(autouse=True, scope="module")
def _undo_zoo_registration():
    """rl-zoo3 patches made by a test module's ``zoo.register`` calls do not leak into the next module."""
    yield
    import sys

    zoo = sys.modules.get("sb3_softopt.zoo")
    if zoo is not None:
        zoo.unregister()
