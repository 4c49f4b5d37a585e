"""
Exact tabular control as inference.

>>> import gymnasium as gym, sb3_softopt
>>> from sb3_softopt.inference import TabularMDP, soft_value_iteration, exact_inference
>>> mdp = TabularMDP.from_env(gym.make("LotteryMDP-v0"))
>>> var = soft_value_iteration(mdp, alpha=1.0)      # variational: expected next value
>>> opt = exact_inference(mdp, alpha=1.0)           # exact: alpha * log E exp(V'/alpha), optimistic

See ``docs/inference.md`` for the user guide.
"""

from sb3_softopt.inference._ops import entropy
from sb3_softopt.inference.composition import (
    ComposedSolution,
    CompositionGap,
    and_bounds,
    combined_task,
    compose,
    compose_q,
    composition_gap,
    divergence_correction,
)
from sb3_softopt.inference.demos import (
    ExpertOccupancy,
    Trajectory,
    expert_occupancy,
    rollout_trajectories,
    sample_trajectories,
)
from sb3_softopt.inference.evaluation import evaluate_policy
from sb3_softopt.inference.irl import IRLResult, maxent_irl
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP
from sb3_softopt.inference.messages import (
    ForwardBackward,
    forward_backward,
    forward_messages,
    marginal_entropy,
    occupancy_measure,
    state_marginals,
)
from sb3_softopt.inference.solvers import (
    MDP_HORIZON,
    ConvergenceWarning,
    SoftSolution,
    exact_inference,
    soft_value_iteration,
)
from sb3_softopt.inference.steps import StepArray

__all__ = [
    "MDP_HORIZON",
    "ComposedSolution",
    "CompositionGap",
    "ConvergenceWarning",
    "ExpertOccupancy",
    "ForwardBackward",
    "IRLResult",
    "InvalidMDPError",
    "SoftSolution",
    "StepArray",
    "TabularMDP",
    "Trajectory",
    "and_bounds",
    "combined_task",
    "compose",
    "compose_q",
    "composition_gap",
    "divergence_correction",
    "entropy",
    "evaluate_policy",
    "exact_inference",
    "expert_occupancy",
    "forward_backward",
    "forward_messages",
    "marginal_entropy",
    "maxent_irl",
    "occupancy_measure",
    "rollout_trajectories",
    "sample_trajectories",
    "soft_value_iteration",
    "state_marginals",
]
