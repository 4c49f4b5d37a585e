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
