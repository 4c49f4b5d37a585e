"""MuJoCo: the zoo entries, the benchmark's checkpoint-resume, and (slow) SQL learning a MuJoCo task."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("mujoco", reason="MuJoCo tasks need the mujoco extra: pip install 'sb3_softopt[mujoco]'")

REPO = Path(__file__).resolve().parents[1]
TASKS = ("InvertedDoublePendulum-v5", "Hopper-v5", "HalfCheetah-v5", "Swimmer-v5")


def _bench():
    """benchmarks/mujoco_bench.py and its summary, imported as modules."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("mujoco_bench", REPO / "benchmarks" / "mujoco_bench.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        import mujoco_summary

        return module, mujoco_summary
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


@pytest.mark.parametrize("algo", ["sql", "sac"])
@pytest.mark.parametrize("env_id", TASKS)
def test_mujoco_entries_load_and_build(algo, env_id):
    import sb3_softopt
    from sb3_softopt.zoo import zoo_entry

    entry = zoo_entry(env_id, algo)
    assert entry.n_timesteps == 100_000
    env = entry.make_env(seed=0)
    assert env.action_space.shape[0] >= 1 and (env.action_space.high == 1).all()  # v5: actions already in [-1, 1]
    cls = {"sql": sb3_softopt.SQL, "sac": sb3_softopt.SAC}[algo]
    model = cls(entry.policy, env, device="cpu", **{**entry.kwargs, "buffer_size": 1000})
    if algo == "sql":  # the official mujoco_all_sql.py settings
        assert model.ent_coef == pytest.approx(1 / 30) and model.batch_size == 128 and model.target_update_interval == 1000
        assert model.value_n_particles == 16 and model.kernel_n_particles == 16 and model.learning_starts == 1000
    env.close()


def _strip(result: dict) -> dict:
    """A result without its timings and session count (all that may differ after a resume)."""
    curve = [{k: v for k, v in c.items() if k not in ("cpu_s", "wall_s")} for c in result["curve"]]
    return {k: v for k, v in result.items() if k not in ("cpu_s", "train_wall_s", "sessions")} | {"curve": curve}


def test_benchmark_resumes_from_a_checkpoint_exactly(tmp_path):
    bench, summary = _bench()
    opts = dict(steps=200, eval_every=100, checkpoint_every=100, eval_episodes=1, final_episodes=1)
    whole = bench.run_one("sac", "InvertedDoublePendulum-v5", 0, str(tmp_path / "a"), **opts)
    # deadline in the past: the run stops at its first checkpoint, as if killed after it
    assert bench.run_one("sac", "InvertedDoublePendulum-v5", 0, str(tmp_path / "b"), deadline=0, **opts) is None
    ckpt = tmp_path / "b" / "checkpoints" / "InvertedDoublePendulum-v5" / "sac_seed0"
    assert (ckpt / "latest").read_text() == "step_100" and not (tmp_path / "b" / "runs").exists()
    resumed = bench.run_one("sac", "InvertedDoublePendulum-v5", 0, str(tmp_path / "b"), **opts)
    assert resumed["sessions"] == 2 and whole["sessions"] == 1 and not ckpt.exists()
    assert _strip(resumed) == _strip(whole)
    assert [c["step"] for c in whole["curve"]] == [100, 200]
    saved = json.loads((tmp_path / "b" / "runs" / "InvertedDoublePendulum-v5" / "sac_seed0.json").read_text())
    assert _strip(saved) == _strip(json.loads(json.dumps(whole)))
    out = summary.summarise(tmp_path / "b")
    assert out["rows"][0]["algo"] == "sac" and (tmp_path / "b" / "curves_InvertedDoublePendulum-v5.png").is_file()
    assert (tmp_path / "b" / "summary.csv").is_file() and "SQL is" in (tmp_path / "b" / "summary.md").read_text()


def test_benchmark_settings_of_the_baselines():
    bench, summary = _bench()
    raw, kwargs, budget = bench._hyperparams("ddpg", "Hopper-v5", None)
    assert budget == 100_000 and raw["action_noise"] == bench.DDPG_NOISE and "noise_type" not in raw
    noise = kwargs["action_noise"]
    assert (noise._theta, noise._dt, float(noise._sigma[0])) == (0.15, 1.0, 0.1)  # rllab's OU process
    assert kwargs["learning_rate"] is not None and raw["buffer_size"] == 100_000  # capped at the budget
    raw, kwargs, budget = bench._hyperparams("td3", "Swimmer-v5", 20_000)
    assert budget == 20_000 and kwargs["gamma"] == 0.9999 and kwargs["learning_starts"] == 2_000  # pilot: a tenth
    assert summary.verdict([1.0], [0.5]) == "ahead (1 seed)"
    assert summary.verdict([1.0, 1.1, 0.9, 1.0], [5.0, 5.1, 4.9, 5.0]) == "behind"
    assert summary.verdict([1.0, 2.0, 3.0], [1.5, 2.5, 2.0]) == "level"


@pytest.mark.slow
def test_sql_learns_inverted_double_pendulum():
    """SQL with the MuJoCo entry (alpha 1/30) lifts InvertedDoublePendulum-v5 far above a random policy.

    Uniform random actions keep it up 6.4 steps on average (return 48.6 over 200 episodes, best
    137.7; zero actions: 73.0): THRESHOLD (about 21 steps balanced, on average over 10 episodes of
    each mode) is 4x the random mean and above the best random episode. BUDGET: about 2 CPU
    minutes; the 1-seed pilot (docs/mujoco.md) reached 316.5 / 310.7 here, 305.6 at 10k steps.
    """
    bench, _ = _bench()
    THRESHOLD, BUDGET = 200.0, 15_000
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        result = bench.run_one("sql", "InvertedDoublePendulum-v5", 0, out, steps=BUDGET, eval_every=BUDGET, final_episodes=10)
    assert result["final"]["det"] > THRESHOLD and result["final"]["sto"] > THRESHOLD, result["final"]
