"""Optuna storage for the rl-zoo3 bridge's ``-optimize``: heartbeats, dead workers, seeded trials.

rl-zoo3 opens ``--storage`` without a heartbeat, so a trial whose worker dies (SIGKILL, OOM,
preemption) stays RUNNING forever, and with ``--max-total-trials`` it keeps counting against the
study's budget. The bridge opens the storage itself with a heartbeat (optuna's own for RDB urls; the
journal file storage has none in optuna, :class:`HeartbeatJournalStorage` adds one), so such a trial
is marked FAIL once its heartbeat is older than the grace period.

It also seeds the sampler per trial number (:class:`PerTrialSeedSampler`): a worker resumed with the
same ``--seed`` does not draw again the hyperparameters of the trials already done.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import time
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
# The bridge's one private import, kept because no public route exists in optuna 5.1: optuna starts
# its heartbeat thread and fails stale trials only for a storage that subclasses BaseHeartbeat, which
# optuna.storages does not export, and its JournalStorage has no heartbeat. RDB urls take the public
# route (RDBStorage(heartbeat_interval=...)); only HeartbeatJournalStorage below needs the base class.
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "HEARTBEAT_ATTR",
    "HeartbeatJournalStorage",
    "OptimizationMixin",
    "PerTrialSeedSampler",
    "fail_stale_trials",
    "open_storage",
    "patched_rl_zoo3_study",
    "worker_name",
]

#: trial system attribute holding the last heartbeat of a journal-stored trial.
HEARTBEAT_ATTR = "softopt_heartbeat"


def worker_name() -> str:
    """``host:pid`` of this process (recorded as the ``worker`` user attribute of each trial)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """A journal storage with optuna's heartbeat protocol (optuna implements it for RDB only).

    Heartbeats are trial system attributes holding the writer's wall-clock time, so the workers
    sharing the journal must agree on the time (true on one machine, which is what a journal file
    is meant for).

    :param backend: the journal backend (``JournalFileBackend(path)``)
    :param heartbeat_interval: seconds between two heartbeats of a running trial
    :param grace_period: seconds after the last heartbeat before a running trial counts as dead
        (default: twice the interval, as for optuna's RDB storage)
    :param stale_trial_callback: called with ``(study, trial)`` for each trial marked FAIL
    """

    def __init__(
        self,
        backend: Any,
        heartbeat_interval: int,
        grace_period: int | None = None,
        stale_trial_callback: Callable[[Study, FrozenTrial], None] | None = None,
    ) -> None:
        if heartbeat_interval <= 0 or (grace_period is not None and grace_period <= 0):
            raise ValueError("heartbeat_interval and grace_period must be positive")
        super().__init__(backend)
        self.heartbeat_interval = int(heartbeat_interval)
        self.grace_period = int(grace_period) if grace_period is not None else 2 * self.heartbeat_interval
        self.stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another worker already gave up on this trial; its result is refused anyway.
            pass

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        # As for RDB: a trial that never sent a heartbeat (worker without one) is never failed.
        return [
            trial._trial_id
            for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            if now - float(trial.system_attrs.get(HEARTBEAT_ATTR, now)) > self.grace_period
        ]

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[Study, FrozenTrial], None] | None:
        return self.stale_trial_callback


def open_storage(storage: str | None, heartbeat: int | None) -> BaseStorage | str | None:
    """The storage ``-optimize`` uses for ``--storage``, as rl-zoo3 reads it, plus a heartbeat.

    :param storage: ``--storage``: a journal file path ending in ``.log``, an RDB url, or None
    :param heartbeat: heartbeat interval in seconds (grace period: twice as long); None or 0 for none
    :return: a storage object, or ``storage`` unchanged when there is nothing to add
    """
    if storage is None or not heartbeat:
        return storage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if storage.endswith(".log"):
            Path(storage).parent.mkdir(parents=True, exist_ok=True)
            from optuna.storages.journal import JournalFileBackend

            backend = JournalFileBackend(storage)
            return HeartbeatJournalStorage(backend, heartbeat_interval=heartbeat)
        return optuna.storages.RDBStorage(storage, heartbeat_interval=heartbeat, grace_period=2 * heartbeat)


def fail_stale_trials(study: Study) -> list[int]:
    """Mark FAIL the running trials of ``study`` whose heartbeat is older than the grace period.

    :param study: a study opened on a storage with a heartbeat (no-op otherwise)
    :return: the numbers of the trials marked FAIL by this call
    """
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if not running:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    failed = sorted(running & {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))})
    if failed:
        print(f"Trials {failed} marked FAIL: their worker sent no heartbeat within the grace period (dead worker)")
    return failed


def _grace_period(storage: BaseStorage | None) -> float:
    # Both storages open_storage builds (RDBStorage, HeartbeatJournalStorage) keep these two.
    interval = getattr(storage, "heartbeat_interval", None)
    grace = getattr(storage, "grace_period", None)
    return float(grace if grace is not None else 2 * interval) if interval else 0.0


def _stale_aware_max_trials(grace_period: float) -> type:
    class StaleAwareMaxTrials:
        """rl-zoo3's ``--max-total-trials`` stop (``MaxTrialsCallback(n, states=...)``), where a
        RUNNING trial counts only while its worker is alive: when the budget is reached only thanks
        to running trials, wait one grace period so that those of dead workers are marked FAIL."""

        def __init__(self, n_trials: int, states: Any = (TrialState.COMPLETE,)) -> None:
            self._n_trials = n_trials
            self._states = tuple(states) if states is not None else None

        def _count(self, study: Study) -> int:
            fail_stale_trials(study)
            return len(study.get_trials(deepcopy=False, states=self._states))

        def __call__(self, study: Study, trial: FrozenTrial) -> None:
            count = self._count(study)
            counts_running = grace_period > 0 and TrialState.RUNNING in (self._states or ())
            if count >= self._n_trials and counts_running and study.get_trials(states=(TrialState.RUNNING,)):
                # A last heartbeat just before the wait is older than the grace period after it.
                time.sleep(grace_period + 1.0)
                count = self._count(study)
            if count >= self._n_trials:
                study.stop()

    return StaleAwareMaxTrials


class PerTrialSeedSampler(BaseSampler):
    """A sampler seeded afresh for each trial, from ``(seed, trial number)``.

    rl-zoo3 seeds one sampler per worker, so a worker restarted with the same ``--seed`` (or two
    workers given the same one) draws the same hyperparameters again. Here trial ``k`` of a study
    draws the same hyperparameters whichever worker runs it and whenever: a resumed study continues
    the sequence of an uninterrupted one. Only for samplers whose state is their random generator
    (random, TPE): each trial gets a new instance, its history comes from the study.

    :param make_sampler: builds the underlying sampler from a seed
    :param seed: the base seed (``--seed``)
    """

    def __init__(self, make_sampler: Callable[[int], BaseSampler], seed: int) -> None:
        self._make_sampler = make_sampler
        self._seed = int(seed)
        self._samplers: dict[int, BaseSampler] = {}

    def trial_seed(self, number: int) -> int:
        """The seed of the sampler of trial ``number``.

        :param number: the trial number
        """
        return int(np.random.SeedSequence([self._seed, int(number)]).generate_state(1)[0])

    def _for(self, trial: Any) -> BaseSampler:
        if trial.number not in self._samplers:
            self._samplers[trial.number] = self._make_sampler(self.trial_seed(trial.number))
        return self._samplers[trial.number]

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        sampler = self._samplers.pop(trial.number, None) or self._make_sampler(self.trial_seed(trial.number))
        sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        # Seeds come from trial numbers: parallel jobs (n_jobs > 1) need no reseeding.
        pass


class _OptunaForRlZoo3:
    """Stands in for the ``optuna`` module inside ``rl_zoo3.exp_manager``: same module, except that
    ``create_study`` uses the bridge's storage (if any) and first fails the trials of dead workers."""

    def __init__(self, storage: BaseStorage | None) -> None:
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        return getattr(optuna, name)

    def create_study(self, *args: Any, storage: Any = None, **kwargs: Any) -> Study:
        study = optuna.create_study(*args, storage=self._storage if self._storage is not None else storage, **kwargs)
        # Before rl-zoo3 counts the study's trials for --max-total-trials.
        fail_stale_trials(study)
        return study


@contextlib.contextmanager
def patched_rl_zoo3_study(storage: BaseStorage | None) -> Iterator[None]:
    """While rl-zoo3's ``hyperparameters_optimization`` runs: open the study on ``storage`` and
    count ``--max-total-trials`` without the trials of dead workers.

    :param storage: the storage built by :func:`open_storage`; None: rl-zoo3's own
    """
    from rl_zoo3 import exp_manager

    saved = exp_manager.optuna, exp_manager.MaxTrialsCallback
    exp_manager.optuna = _OptunaForRlZoo3(storage)  # type: ignore[assignment]
    exp_manager.MaxTrialsCallback = _stale_aware_max_trials(_grace_period(storage))  # type: ignore[assignment, misc]
    try:
        yield
    finally:
        exp_manager.optuna, exp_manager.MaxTrialsCallback = saved  # type: ignore[misc]  # undoes the patch above


def _rl_zoo3_sampler(sampler_method: str, n_startup_trials: int, seed: int) -> BaseSampler:
    # rl-zoo3's own sampler settings, with a per-trial seed in place of --seed.
    from rl_zoo3.exp_manager import ExperimentManager

    settings = types.SimpleNamespace(seed=seed, n_startup_trials=n_startup_trials)
    return ExperimentManager._create_sampler(settings, sampler_method)  # type: ignore[arg-type]


class OptimizationMixin:
    """Mixed into rl-zoo3's ``ExperimentManager`` by the bridge: ``-optimize`` with a heartbeat
    (``self._bridge_heartbeat`` seconds, None/0 for none), per-trial seeds and the ``worker``
    user attribute (``host:pid``) on every trial."""

    _bridge_heartbeat: int | None = None

    def _create_sampler(self, sampler_method: str) -> BaseSampler:
        if sampler_method not in ("random", "tpe"):
            return super()._create_sampler(sampler_method)  # type: ignore[misc]
        # A partial, not a closure: rl-zoo3 pickles the study, sampler included, into its report.
        make = functools.partial(_rl_zoo3_sampler, sampler_method, self.n_startup_trials)  # type: ignore[attr-defined]
        return PerTrialSeedSampler(make, self.seed)  # type: ignore[attr-defined]

    def objective(self, trial: optuna.Trial) -> float:
        # Which process ran (or abandoned) a trial; shows in the report's user_attrs columns.
        trial.set_user_attr("worker", worker_name())
        return super().objective(trial)  # type: ignore[misc]

    def hyperparameters_optimization(self) -> None:
        storage = open_storage(self.storage, self._bridge_heartbeat)  # type: ignore[attr-defined]
        with patched_rl_zoo3_study(storage if isinstance(storage, BaseStorage) else None):
            super().hyperparameters_optimization()  # type: ignore[misc]
        # (isinstance BaseStorage first: mypy cannot narrow the union with str straight to BaseHeartbeat)
        if isinstance(storage, BaseStorage) and isinstance(storage, BaseHeartbeat) and self.study_name is not None:  # type: ignore[attr-defined]
            # A worker that died while this one ran its last trial is marked FAIL too.
            study = optuna.load_study(storage=storage, study_name=self.study_name)  # type: ignore[attr-defined]
            fail_stale_trials(study)
