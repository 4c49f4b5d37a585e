"""SQL's gradient step computes what the straightforward implementation computes.

The library evaluates its networks on the particles without concatenating the observation
features to every particle (:func:`sb3_softopt.sql.policies.mlp_on_particles`) and runs the
no-gradient passes in place. The reference below is the plain version (``net(cat([features,
particle]))`` on every pass, as SQL did before issue #29): on the same seed and batch, the losses,
the gradients and the updated parameters must agree to float rounding.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.utils import polyak_update
from torch import nn
from torch.nn import functional as F

from sb3_softopt import SQL
from sb3_softopt.sql.policies import mlp_on_particles
from sb3_softopt.sql.svgd import SQUASH_EPS, svgd_direction, uniform_soft_value


# ----------------------------------------------------------------------------- the reference
def _plain_mlp(net: nn.Module, features: th.Tensor, particles: th.Tensor) -> th.Tensor:
    expanded = features.unsqueeze(1).expand(-1, particles.shape[1], -1)
    return net(th.cat([expanded, particles], dim=-1))


def _plain_q(critic, obs, actions):
    with th.set_grad_enabled(th.is_grad_enabled() and not critic.share_features_extractor):
        features = critic.extract_features(obs, critic.features_extractor)
    return _plain_mlp(critic.q_networks[0], features, actions).squeeze(-1)


def _plain_particles(actor, features, n):
    noise = th.randn(features.shape[0], n, actor.action_dim)
    return _plain_mlp(actor.net, features, noise) + noise


def _reference_losses(model: SQL, data, alpha: float) -> tuple[th.Tensor, th.Tensor]:
    """Critic loss, then sampler loss (after the critic's step, as in ``train``), in the draw order of ``train``."""
    discounts = data.discounts if data.discounts is not None else model.gamma
    with th.no_grad():
        uniform = 2.0 * th.rand(data.rewards.shape[0], model.value_n_particles, model.action_dim) - 1.0
        next_value = uniform_soft_value(_plain_q(model.critic_target, data.next_observations, uniform), alpha, model.action_dim)
        target = data.rewards + (1 - data.dones) * discounts * next_value
    critic_loss = 0.5 * F.mse_loss(model.critic(data.observations, data.actions)[0], target)
    return critic_loss, next_value


def _reference_sampler_loss(model: SQL, obs, alpha: float) -> th.Tensor:
    actor = model.actor
    features = actor.extract_features(obs, actor.features_extractor)
    with th.no_grad():
        u_fixed = _plain_particles(actor, features, model.n_fixed_particles)
    u_updated = _plain_particles(actor, features, model.n_updated_particles)
    if model.svgd_space == "pre_tanh":
        fixed, updated = u_fixed.requires_grad_(True), u_updated
        actions = th.tanh(fixed)
    else:
        fixed, updated = th.tanh(u_fixed).requires_grad_(True), th.tanh(u_updated)
        actions = fixed
    log_p = _plain_q(model.critic, obs, actions) / alpha + th.log(1.0 - actions.pow(2) + SQUASH_EPS).sum(dim=-1)
    (grad_log_p,) = th.autograd.grad(log_p.sum(), fixed)
    direction, _ = svgd_direction(fixed.detach(), updated, grad_log_p)
    return -(direction.detach() * updated).sum(dim=-1).mean()


def _reference_train(model: SQL, gradient_steps: int, batch_size: int) -> list[tuple[th.Tensor, ...]]:
    """``SQL.train`` written out with the reference losses; returns the losses and gradients of each step."""
    alpha = model.current_ent_coef()
    record = []
    for _ in range(gradient_steps):
        data = model.replay_buffer.sample(batch_size)
        critic_loss, _ = _reference_losses(model, data, alpha)
        model.critic.optimizer.zero_grad()
        critic_loss.backward()
        critic_grads = [p.grad.clone() for p in model.critic.parameters()]
        model.critic.optimizer.step()
        actor_loss = _reference_sampler_loss(model, data.observations, alpha)
        model.actor.optimizer.zero_grad()
        actor_loss.backward()
        actor_grads = [p.grad.clone() for p in model.actor.parameters()]
        model.actor.optimizer.step()
        model._n_updates += 1
        if model._n_updates % model.target_update_interval == 0:
            polyak_update(model.critic.parameters(), model.critic_target.parameters(), model.tau)
        record.append((critic_loss.detach(), actor_loss.detach(), *critic_grads, *actor_grads))
    return record


def _library_train(model: SQL, gradient_steps: int, batch_size: int) -> list[tuple[th.Tensor, ...]]:
    """``model.train`` one step at a time, with the gradients its optimisers applied."""
    applied: list[list[th.Tensor]] = []

    def keep_grads(optimizer: th.optim.Optimizer, *_: object) -> None:
        applied.append([p.grad.clone() for group in optimizer.param_groups for p in group["params"]])

    hooks = [model.critic.optimizer.register_step_pre_hook(keep_grads), model.actor.optimizer.register_step_pre_hook(keep_grads)]
    record = []
    for _ in range(gradient_steps):
        applied.clear()
        model.train(1, batch_size)
        losses = [th.tensor(model.logger.name_to_value[f"train/{key}"]) for key in ("critic_loss", "actor_loss")]
        record.append((*losses, *applied[0], *applied[1]))
    for hook in hooks:
        hook.remove()
    return record


CONFIGS = {
    "defaults": dict(),
    "action_space_adam_tanh": dict(svgd_space="action", policy_kwargs=dict(net_arch=[32, 32], activation_fn=nn.Tanh)),
    "shared_extractor_sgd": dict(policy_kwargs=dict(net_arch=[32, 32], share_features_extractor=True, optimizer_class=th.optim.SGD)),
    "no_hidden_layer": dict(target_update_interval=2, policy_kwargs=dict(net_arch=[])),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_step_equals_the_plain_implementation(name):
    kwargs = dict(learning_starts=10_000, batch_size=32, seed=0, policy_kwargs=dict(net_arch=[32, 32]))
    kwargs.update(CONFIGS[name])
    model = SQL("MlpPolicy", "Pendulum-v1", **kwargs).learn(200)
    model.train(2, 32)  # Adam past its first step, where a float-rounding sign could flip an update
    reference = copy.deepcopy(model)
    records = []
    for m, train in ((model, _library_train), (reference, _reference_train)):
        np.random.seed(1)
        th.manual_seed(1)
        records.append(train(m, 3, 32))
    for step, (ours, ref) in enumerate(zip(*records, strict=True)):
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            assert th.allclose(a, b, rtol=1e-4, atol=1e-6 * (1 + b.abs().max().item())), (step, i, (a - b).abs().max())
    for p, q in zip(model.policy.state_dict().values(), reference.policy.state_dict().values(), strict=True):
        assert th.allclose(p, q, rtol=1e-4, atol=1e-6), (p - q).abs().max()


def test_mlp_on_particles_equals_the_concatenation_with_and_without_gradient():
    gen = th.Generator().manual_seed(0)
    features, particles = th.randn(5, 3, generator=gen), th.randn(5, 7, 2, generator=gen)
    for net in (nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)),
                nn.Sequential(nn.Linear(5, 1)), nn.Sequential(nn.Identity(), nn.Linear(5, 4), nn.ELU())):
        expected = _plain_mlp(net, features, particles)
        with th.no_grad():
            assert th.allclose(mlp_on_particles(net, features, particles), expected, atol=1e-6)
        x = particles.clone().requires_grad_(True)
        out = mlp_on_particles(net, features, x)
        assert th.allclose(out, expected, atol=1e-6)
        (grad,) = th.autograd.grad(out.sum(), x)
        y = particles.clone().requires_grad_(True)
        (grad_ref,) = th.autograd.grad(_plain_mlp(net, features, y).sum(), y)
        assert th.allclose(grad, grad_ref, atol=1e-6)


def test_speed_benchmark_phases_are_the_train_step():
    """``benchmarks/sql.py speed`` times ``train()``'s step written out phase by phase: the same update."""
    spec = importlib.util.spec_from_file_location("bench_sql", Path(__file__).resolve().parents[1] / "benchmarks" / "sql.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = SQL("MlpPolicy", "Pendulum-v1", learning_starts=10_000, batch_size=32, seed=0, policy_kwargs=dict(net_arch=[32, 32])).learn(200)
    model.train(2, 32)
    timed = copy.deepcopy(model)
    np.random.seed(3)
    th.manual_seed(3)
    model.train(1, 32)
    np.random.seed(3)
    th.manual_seed(3)
    phases = bench._timed_sql_step(timed, 32, timed.current_ent_coef())
    assert set(phases) == set(bench.SQL_PHASES)
    for p, q in zip(model.policy.state_dict().values(), timed.policy.state_dict().values(), strict=True):
        assert th.allclose(p, q, rtol=1e-4, atol=1e-6), (p - q).abs().max()
