"""Mid-run checkpoints of an off-policy SB3 training run, so that a killed run continues exactly.

``model.save`` keeps the networks, optimisers and counters (``num_timesteps``, ``_last_obs``, the
action noise's state), but not what else decides the rest of the run: the replay buffer, the
global torch / numpy / ``random`` generators (action sampling, minibatch indices), the model's
action-space generator (random warm-up actions) and the training env itself, mid-episode.
:func:`save_training_state` writes all of them; :func:`load_training_state` restores them, and a
run continued with ``model.learn(n, reset_num_timesteps=False)`` then takes the same steps as one
that was never interrupted.

The env is pickled with ``cloudpickle``; MuJoCo envs rebuild their simulator on unpickling
(``EzPickle``), so their physics state (``mj_getState`` with ``mjSTATE_INTEGRATION``) and their
generator are saved beside. Each checkpoint is a folder ``step_<n>``; a ``latest`` file, replaced
atomically after the folder is complete, names the one to load, so a kill during a save leaves the
previous checkpoint in force.
"""

from __future__ import annotations

import copy
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

from sb3_softopt.experiments.infra.atomic import atomic_write_text

__all__ = ["clear_training_state", "load_training_state", "save_training_state"]

LATEST = "latest"


def _env_states(vec_env: Any) -> list[dict[str, Any]]:
    """What unpickling does not bring back, per sub-env: its generator and MuJoCo physics."""
    states: list[dict[str, Any]] = []
    for env in getattr(vec_env, "envs", []):
        base = env.unwrapped
        state: dict[str, Any] = {"np_random": copy.deepcopy(base.np_random.bit_generator.state)}
        if hasattr(base, "model") and hasattr(base, "data") and type(base.data).__module__.startswith("mujoco"):
            import mujoco

            spec = mujoco.mjtState.mjSTATE_INTEGRATION
            physics = np.empty(mujoco.mj_stateSize(base.model, spec))
            mujoco.mj_getState(base.model, base.data, physics, spec)
            state["mujoco"] = physics
        states.append(state)
    return states


def _restore_env_states(vec_env: Any, states: list[dict[str, Any]]) -> None:
    for env, state in zip(getattr(vec_env, "envs", []), states, strict=True):
        base = env.unwrapped
        base.np_random.bit_generator.state = state["np_random"]
        if "mujoco" in state:
            import mujoco

            mujoco.mj_setState(base.model, base.data, state["mujoco"], mujoco.mjtState.mjSTATE_INTEGRATION)


def save_training_state(model: Any, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint of ``model`` (and its env) under ``folder``; return the checkpoint's folder.

    :param model: an off-policy SB3 algorithm with a replay buffer and a ``DummyVecEnv``.
    :param folder: the run's checkpoint folder (created); older checkpoints in it are removed once
        this one is in force.
    :param extra: anything picklable to keep with it (the caller's history, timers); returned by
        :func:`load_training_state`.
    """
    import cloudpickle

    root = Path(folder)
    step_dir = root / f"step_{model.num_timesteps}"
    if step_dir.exists():  # a save interrupted before `latest` named it
        shutil.rmtree(step_dir)
    step_dir.mkdir(parents=True)
    model.save(step_dir / "model.zip")
    model.save_replay_buffer(step_dir / "replay_buffer.pkl")
    env = model.get_env()
    state = {
        "extra": extra or {},
        "torch_rng": th.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "random_rng": random.getstate(),
        "action_space_rng": copy.deepcopy(model.action_space.np_random.bit_generator.state),
        "env": cloudpickle.dumps(env),
        "env_states": _env_states(env),
    }
    with open(step_dir / "state.pkl", "wb") as handle:
        pickle.dump(state, handle)
    atomic_write_text(root / LATEST, step_dir.name)
    for old in root.glob("step_*"):
        if old != step_dir:
            shutil.rmtree(old, ignore_errors=True)
    return step_dir


def load_training_state(algo_class: Any, folder: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]] | None:
    """The model and ``extra`` of the checkpoint in force under ``folder``, or ``None`` if there is none.

    :param algo_class: the algorithm class (``SAC``, ``SQL``, ``TD3`` ...) that saved it.
    :param folder: the run's checkpoint folder.
    :param device: torch device of the loaded model.
    """
    root = Path(folder)
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    step_dir = root / pointer.read_text().strip()
    with open(step_dir / "state.pkl", "rb") as handle:
        state = pickle.load(handle)
    env = pickle.loads(state["env"])
    _restore_env_states(env, state["env_states"])
    # force_reset=False: keep the saved ``_last_obs`` (the episode in progress) instead of a reset
    model = algo_class.load(step_dir / "model.zip", env=env, device=device, force_reset=False)
    model.load_replay_buffer(step_dir / "replay_buffer.pkl")
    # load() reseeds (set_random_seed): the env's next reset would be seeded again and the
    # generators restarted; undo both, so that the run continues as if never stopped
    if hasattr(env, "_reset_seeds"):
        env._reset_seeds()
    model.action_space.np_random.bit_generator.state = state["action_space_rng"]
    th.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["random_rng"])
    return model, state["extra"]


def clear_training_state(folder: str | Path) -> None:
    """Remove a run's checkpoints (once its result is written).

    :param folder: the run's checkpoint folder.
    """
    shutil.rmtree(folder, ignore_errors=True)
