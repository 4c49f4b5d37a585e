"""What the experiments, the lecture runner and the benchmarks share, beside the experiments.

``sb3_softopt.common`` holds what the algorithms themselves need; the modules here serve the runs
around them: crash-safe result files (:mod:`~sb3_softopt.experiments.infra.atomic`), statistics over
seeds (:mod:`~sb3_softopt.experiments.infra.stats`), figures
(:mod:`~sb3_softopt.experiments.infra.plotting`), action noise built from a JSON-able spec
(:mod:`~sb3_softopt.experiments.infra.noise`), the local-pool-or-Dask executor
(:mod:`~sb3_softopt.experiments.infra.executors`) and mid-run checkpoints
(:mod:`~sb3_softopt.experiments.infra.run_state`). They import no algorithm and no experiment, so
that a benchmark summary or a test can use them without loading the claims; the one use from
``common`` is :class:`~sb3_softopt.common.callbacks.EntropyTrackingCallback`'s figure, saved with
:func:`~sb3_softopt.experiments.infra.plotting.save_figure`.

Release 0.2.0 had them in ``sb3_softopt.common``; the old paths still import, with a
``DeprecationWarning``, for one more release.
"""
