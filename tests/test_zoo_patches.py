"""The bridge changes rl-zoo3 only when asked (``register``), and ``unregister`` undoes it all (#17)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rl_zoo3")

import rl_zoo3.enjoy  # noqa: E402
import rl_zoo3.exp_manager  # noqa: E402
import rl_zoo3.hyperparams_opt as hp  # noqa: E402
import rl_zoo3.train  # noqa: E402
import rl_zoo3.utils  # noqa: E402

from sb3_softopt import zoo  # noqa: E402


def _snapshot() -> dict:
    return {
        "algos": dict(rl_zoo3.utils.ALGOS),
        "samplers": dict(hp.HYPERPARAMS_SAMPLER),
        "converters": dict(hp.HYPERPARAMS_CONVERTER),
        "store_dict": vars(rl_zoo3.utils.StoreDict).get("__call__"),
        "manager": rl_zoo3.train.ExperimentManager,
        "model_path": (rl_zoo3.utils.get_model_path, rl_zoo3.enjoy.get_model_path),
    }


def test_register_then_unregister_restores_rl_zoo3():
    zoo.unregister()
    before = _snapshot()
    assert "soft_dqn" not in before["algos"]
    zoo.register("train")
    zoo.register("enjoy")  # twice, with the enjoy loaders and the model-path fallback
    during = _snapshot()
    assert during["algos"]["soft_dqn"] is not None and "soft_dqn" in during["samplers"]
    assert during["manager"] is not before["manager"] and during["model_path"] != before["model_path"]
    assert during["store_dict"] is zoo._lenient_store_dict_call
    zoo.unregister()
    assert _snapshot() == before
    zoo.unregister()  # idempotent
    assert _snapshot() == before


def test_importing_the_bridge_changes_nothing():
    script = (
        "import rl_zoo3.utils, rl_zoo3.train, rl_zoo3.hyperparams_opt as hp\n"
        "before = (dict(rl_zoo3.utils.ALGOS), rl_zoo3.train.ExperimentManager, rl_zoo3.utils.StoreDict.__call__)\n"
        "import sb3_softopt.zoo, sb3_softopt.zoo.entry\n"
        "sb3_softopt.zoo.entry.zoo_entry('CartPole-v1', 'soft_dqn')\n"
        "after = (dict(rl_zoo3.utils.ALGOS), rl_zoo3.train.ExperimentManager, rl_zoo3.utils.StoreDict.__call__)\n"
        "print(before == after and 'soft_dqn' not in hp.HYPERPARAMS_SAMPLER)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "True"
