"""The executor switch (sb3_softopt.experiments.infra.executors): the local pool and Dask give the same results."""

from __future__ import annotations

import json
import os

import pytest

from sb3_softopt.experiments.infra.executors import make_executor

distributed = pytest.importorskip("distributed", reason="the Dask backend needs the distributed extra")


def _square(x: int) -> int:
    return x * x


def _tagged(x: int) -> tuple[str | None, int]:
    return os.environ.get("SOFTOPT_TEST_INIT"), x


def _init(tag: str) -> None:
    os.environ["SOFTOPT_TEST_INIT"] = tag


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(backend="ray"), "backend"), (dict(workers=0), "workers"), (dict(address="tcp://x:1"), "address")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_executor(**kwargs)


@pytest.fixture(scope="module")
def cluster():
    # threads in this process (processes=False): starts in milliseconds; one thread, as jobs seed
    # the process-wide generators
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


def test_dask_executor_runs_the_initializer_and_matches_the_pool(cluster):
    with make_executor("local", 2) as pool:
        local = [f.result() for f in [pool.submit(_square, i) for i in range(5)]]
    with make_executor("dask", 1, cluster.scheduler_address, initializer=_init, initargs=("dask",)) as pool:
        remote = [f.result() for f in [pool.submit(_square, i) for i in range(5)]]
        assert pool.submit(_tagged, 3).result() == ("dask", 3)
    assert local == remote == [0, 1, 4, 9, 16]


def _strip(obj):
    """A result without its timings (the only thing allowed to differ between backends)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in ("seconds", "cpu_s", "wall_s", "train_s")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_robustness_jobs_on_dask_equal_the_local_pool(tmp_path, cluster):
    from sb3_softopt.experiments.robustness import run

    kwargs = dict(quick=True, n_seeds=1, train_steps=300, n_eval_episodes=1, algos=("SQL", "DDPG"), workers=1, progress=False)
    local = run(tmp_path / "local", **kwargs)
    remote = run(tmp_path / "dask", backend="dask", dask_address=cluster.scheduler_address, **kwargs)
    assert _strip(remote) == _strip(local)
    for name in ("SQL_seed0.json", "DDPG_seed0.json"):
        a, b = (json.loads((tmp_path / d / "runs" / name).read_text()) for d in ("local", "dask"))
        assert _strip(a) == _strip(b)
