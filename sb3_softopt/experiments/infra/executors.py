"""One executor for per-seed jobs: the local process pool, or a Dask cluster with the same code path.

The experiments and benchmarks submit independent jobs (one training run each) and wait for their
results. :func:`make_executor` hands them a :class:`concurrent.futures.Executor` either way:

- ``"local"`` (the default): a :class:`~concurrent.futures.ProcessPoolExecutor`, built with the
  caller's ``mp_context``, ``initializer`` and ``initargs`` exactly as before, so local runs are
  unchanged;
- ``"dask"``: ``Client.get_executor()`` of Dask distributed (``pip install "sb3_softopt[distributed]"``),
  on the scheduler at ``address`` or, without one, on a fresh ``LocalCluster`` of ``workers``
  single-threaded processes. The initializer runs once on every worker (a worker plugin, so workers
  that join later get it too).

Why Dask and not Ray: Dask distributed is a set of pure-Python wheels whose executor *is* a
``concurrent.futures.Executor``, so ``submit``/``wait``/``as_completed`` serve both backends; Ray is
a 60+ MB binary wheel with its own object store and actor model, more than independent
CPU-bound training jobs that exchange a small dict need.

Jobs write their results and checkpoints under the experiment's output folder: workers on other
machines must see that folder at the same path (a shared filesystem).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

__all__ = ["BACKENDS", "make_executor"]

#: the accepted ``backend`` names
BACKENDS = ("local", "dask")


def make_executor(
    backend: str = "local",
    workers: int = 1,
    address: str | Any | None = None,
    *,
    mp_context: Any | None = None,
    initializer: Callable[..., object] | None = None,
    initargs: tuple = (),
) -> contextlib.AbstractContextManager[Executor]:
    """A context-managed executor for independent jobs (see the module docstring).

    :param backend: ``"local"`` (a process pool on this machine) or ``"dask"`` (Dask distributed).
    :param workers: local pool size; with ``"dask"`` and no ``address``, the number of processes of
        the ``LocalCluster`` started (and closed) here. Ignored when ``address`` is given.
    :param address: Dask only: a scheduler address (``"tcp://host:8786"``) or a cluster object
        (``LocalCluster(...)``) to connect to; ``None`` starts a local cluster.
    :param mp_context: local only: the multiprocessing context of the pool (default: the platform's).
    :param initializer: called once in every worker before its first job (local: the pool's
        ``initializer``; Dask: a worker plugin's ``setup``).
    :param initargs: arguments of ``initializer``.
    :raises ValueError: an unknown backend, ``workers < 1``, or ``address`` with the local backend.
    :raises ImportError: ``"dask"`` without the ``distributed`` extra installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if backend == "local":
        if address is not None:
            raise ValueError("address is a Dask scheduler; the local backend takes none")
        ctx = mp_context if mp_context is not None else mp.get_context()
        return ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx, initializer=initializer, initargs=initargs)
    return _dask_executor(int(workers), address, initializer, initargs)


@contextlib.contextmanager
def _dask_executor(workers: int, address: Any, initializer: Callable[..., object] | None, initargs: tuple) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError('the "dask" backend needs Dask distributed: pip install "sb3_softopt[distributed]"') from exc

    with contextlib.ExitStack() as stack:
        if address is None:
            # one thread per process: jobs seed the global torch/numpy RNGs, which threads would share
            address = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None))
        client = stack.enter_context(Client(address))
        if initializer is not None:
            client.register_plugin(_init_plugin(initializer, initargs), name=f"sb3_softopt-init-{id(initializer)}")
        # pure=False: two submissions of the same job are two runs (Dask would otherwise merge them)
        executor = client.get_executor(pure=False)
        try:
            yield executor
        finally:
            executor.shutdown(wait=True)


def _init_plugin(initializer: Callable[..., object], initargs: tuple) -> Any:
    """A Dask worker plugin that runs the pool initializer on each worker (present and future)."""
    from distributed import WorkerPlugin

    # defined here so that importing this module needs no Dask; cloudpickle ships it by value
    class InitPlugin(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            initializer(*initargs)

    return InitPlugin()
