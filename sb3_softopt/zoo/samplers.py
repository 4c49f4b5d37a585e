"""Optuna samplers of our algorithms' hyperparameters (rl-zoo3's ``-optimize``)."""

from __future__ import annotations

from typing import Any


# --------------------------------------------------------------------------------------
# Optuna samplers
# --------------------------------------------------------------------------------------
def sample_soft_dqn_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for SoftDQN: rl-zoo3's DQN search space with the temperature in
    place of epsilon-greedy exploration (a Boltzmann policy explores by itself).

    Parameter names follow rl-zoo3's so that its ``convert_offpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    batch_size_pow = trial.suggest_int("batch_size_pow", 4, 9)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    train_freq = trial.suggest_int("train_freq", 1, 10)
    subsample_steps = trial.suggest_int("subsample_steps", 1, min(train_freq, 8))
    target_update_interval = trial.suggest_int("target_update_interval", 1, 20000, log=True)
    ent_coef = trial.suggest_float("ent_coef", 1e-4, 1.0, log=True)
    net_arch = trial.suggest_categorical("net_arch", ["small", "medium", "big"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_offpolicy_params(
        {
            "one_minus_gamma": one_minus_gamma,
            "learning_rate": learning_rate,
            "batch_size_pow": batch_size_pow,
            "train_freq": train_freq,
            "subsample_steps": subsample_steps,
            "target_update_interval": target_update_interval,
            "ent_coef": ent_coef,
            "net_arch": net_arch,
        }
    )


def sample_sql_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for SQL: rl-zoo3's SAC search space plus the temperature (log scale; SAC
    learns it, SQL cannot) and the number of SVGD particles.

    Parameter names follow rl-zoo3's so that its ``convert_offpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    batch_size_pow = trial.suggest_int("batch_size_pow", 5, 9)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    train_freq = trial.suggest_int("train_freq", 1, 10)
    tau = trial.suggest_float("tau", 0.001, 0.08, log=True)
    ent_coef = trial.suggest_float("ent_coef", 1e-3, 10.0, log=True)
    kernel_n_particles = trial.suggest_categorical("kernel_n_particles", [8, 16, 32])
    net_arch = trial.suggest_categorical("net_arch", ["small", "medium", "big"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_offpolicy_params(
        {
            "one_minus_gamma": one_minus_gamma,
            "learning_rate": learning_rate,
            "batch_size_pow": batch_size_pow,
            "train_freq": train_freq,
            "tau": tau,
            "ent_coef": ent_coef,
            "kernel_n_particles": kernel_n_particles,
            "net_arch": net_arch,
        }
    )


def sample_sac_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for SAC: rl-zoo3's own search space, and on ``Discrete`` actions also the
    options of the discrete step (``q_target``, ``q_clip``, ``entropy_penalty``, ``critic_ent_coef``).

    rl-zoo3 passes ``n_actions = 0`` for every action space but ``Box`` (it sets the count only
    for ``Box``, for action noise), which is how a discrete env is told apart here. The options
    are passed through unchanged by ``convert_offpolicy_params``, so ``--trial-id`` reloads them.
    """
    from rl_zoo3.hyperparams_opt import sample_sac_params as zoo_sample_sac_params

    hyperparams = zoo_sample_sac_params(trial, n_actions, n_envs, additional_args)
    if n_actions == 0:
        hyperparams["q_target"] = trial.suggest_categorical("q_target", ["min", "mean"])
        hyperparams["q_clip"] = trial.suggest_categorical("q_clip", [None, 0.5, 2.0])
        hyperparams["entropy_penalty"] = trial.suggest_categorical("entropy_penalty", [0.0, 0.1, 0.5])
        hyperparams["critic_ent_coef"] = trial.suggest_categorical("critic_ent_coef", [None, 0.0])
    return hyperparams


def sample_entropy_ppo_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for EntropyPPO: rl-zoo3's PPO search space where the temperature of the
    soft returns, ``soft_ent_coef`` (log scale), replaces PPO's entropy bonus ``ent_coef`` (kept 0).

    Parameter names follow rl-zoo3's so that its ``convert_onpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    batch_size_pow = trial.suggest_int("batch_size_pow", 4, 10)
    n_steps_pow = trial.suggest_int("n_steps_pow", 5, 12)
    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    one_minus_gae_lambda = trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    soft_ent_coef = trial.suggest_float("soft_ent_coef", 1e-4, 0.1, log=True)
    clip_range = trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4])
    n_epochs = trial.suggest_categorical("n_epochs", [1, 5, 10, 20])
    max_grad_norm = trial.suggest_float("max_grad_norm", 0.3, 2)
    net_arch = trial.suggest_categorical("net_arch", ["tiny", "small", "medium"])
    activation_fn = trial.suggest_categorical("activation_fn", ["tanh", "relu"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("n_steps", 2**n_steps_pow)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_onpolicy_params(
        {
            "n_steps_pow": n_steps_pow,
            "batch_size_pow": batch_size_pow,
            "one_minus_gamma": one_minus_gamma,
            "one_minus_gae_lambda": one_minus_gae_lambda,
            "learning_rate": learning_rate,
            "soft_ent_coef": soft_ent_coef,
            "clip_range": clip_range,
            "n_epochs": n_epochs,
            "max_grad_norm": max_grad_norm,
            "net_arch": net_arch,
            "activation_fn": activation_fn,
        }
    )
