"""Reliability of the rl-zoo3 bridge (issue #18): clean failures, enjoy's fallback, HPO workers killed.

The worker tests run real ``softopt-zoo train -optimize`` processes on tiny budgets and kill them
with SIGKILL; the PostgreSQL test starts its own server (skipped where that is impossible).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from sb3_softopt import zoo  # noqa: E402
from sb3_softopt.zoo import runs as zoo_runs  # noqa: E402
from sb3_softopt.zoo import storage as zoo_storage  # noqa: E402

pytestmark = pytest.mark.zoo

CONF = {
    "CartPole-v1": {
        "n_timesteps": 400,
        "policy": "MlpPolicy",
        "learning_starts": 200,
        "buffer_size": 2000,
        "batch_size": 32,
        "train_freq": 4,
        "target_update_interval": 100,
        "ent_coef": "auto",
        "policy_kwargs": "dict(net_arch=[32])",
    }
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _conf(folder: Path) -> Path:
    path = folder / "soft_dqn.yml"
    path.write_text(yaml.safe_dump(CONF))
    return path


def _cli(monkeypatch, *argv: str) -> None:
    """Run the bridge in process exactly as from the command line (``main()`` reads sys.argv)."""
    monkeypatch.setattr(sys, "argv", ["softopt-zoo", *argv])
    zoo.main()


def _train(conf: Path, logs: Path, *extra: str) -> list[str]:
    return [
        "train", "--algo", "soft_dqn", "--env", "CartPole-v1", "-conf", str(conf), "-f", str(logs),
        "--seed", "0", "--num-threads", "1", "--eval-freq", "-1", "--verbose", "0", *extra,
    ]  # fmt: skip


# --------------------------------------------------------------------------------------
# clean failures, enjoy's fallback
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One good run, ``CartPole-v1_1`` with its model."""
    root = tmp_path_factory.mktemp("zoo_runs")
    conf, logs = _conf(root), root / "logs"
    zoo.main(_train(conf, logs))
    assert (logs / "soft_dqn" / "CartPole-v1_1" / "CartPole-v1.zip").is_file()
    return conf, logs


def test_failed_setup_prints_one_line_and_leaves_no_run_folder(trained, monkeypatch, capsys):
    conf, logs = trained
    runs = logs / "soft_dqn"
    before = sorted(p.name for p in runs.iterdir())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        _cli(monkeypatch, *_train(conf, logs, "-params", "ent_coef:lin_abc"))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("softopt-zoo train: error: ScheduleError: ent_coef: cannot read 'abc'")
    assert "--traceback" in err
    # rl-zoo3 had created CartPole-v1_2 (monitor file only) before the model failed to build.
    assert sorted(p.name for p in runs.iterdir()) == before

    with pytest.raises(SystemExit) as exit_info:
        _cli(monkeypatch, "train", "--algo", "soft_dqn", "--env", "CartPole-v9", "-f", str(logs))
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count("\n") == 1
    assert "CartPole-v9 not found in gym registry, you maybe meant CartPole-v1?" in err

    # --traceback: the original exception, traceback and all.
    from sb3_softopt.common.schedules import ScheduleError

    with pytest.raises(ScheduleError, match="lin_abc"):
        _cli(monkeypatch, "--traceback", *_train(conf, logs, "-params", "ent_coef:lin_abc"))
    assert sorted(p.name for p in runs.iterdir()) == before
    # Bad bridge usage: exit status 2, like argparse.
    with pytest.raises(SystemExit) as exit_info:
        _cli(monkeypatch, "--heartbeat", "soon", "train")
    assert exit_info.value.code == 2 and "--heartbeat needs a whole number" in capsys.readouterr().err


def test_remove_failed_run_keeps_models(tmp_path):
    empty, with_model = tmp_path / "CartPole-v1_3", tmp_path / "CartPole-v1_4"
    (empty / "CartPole-v1").mkdir(parents=True)
    (empty / "0.monitor.csv").write_text("#\n")
    (with_model / "CartPole-v1").mkdir(parents=True)
    (with_model / "best_model.zip").write_bytes(b"zip")
    assert zoo_runs.remove_failed_run(empty) and not empty.exists()
    assert not zoo_runs.remove_failed_run(with_model) and (with_model / "best_model.zip").is_file()


def test_enjoy_falls_back_to_the_latest_run_with_a_model(trained, tmp_path, monkeypatch, capsys):
    _, logs = trained
    # What a crashed run or an -optimize run leaves: a higher run id without a model.
    orphan = logs / "soft_dqn" / "CartPole-v1_7"
    orphan.mkdir()
    (orphan / "0.monitor.csv").write_text("#\n")
    try:
        capsys.readouterr()
        zoo.main(["enjoy", "--algo", "soft_dqn", "--env", "CartPole-v1", "-f", str(logs), "--no-render", "-n", "20"])
        out = capsys.readouterr().out
        assert "Loading latest experiment holding a model, id=1 (CartPole-v1_7: no model)" in out
        assert f"Loading {logs / 'soft_dqn' / 'CartPole-v1_1' / 'CartPole-v1.zip'}" in out
        # An explicit --exp-id is honoured: that run has no model, a one-line error.
        with pytest.raises(SystemExit) as exit_info:
            _cli(monkeypatch, "enjoy", "--algo", "soft_dqn", "--env", "CartPole-v1", "-f", str(logs), "--exp-id", "7")
        err = capsys.readouterr().err
        assert exit_info.value.code == 1 and err.count("\n") == 1 and "No model found" in err
    finally:
        shutil.rmtree(orphan)
    # Nothing anywhere: rl-zoo3's own error.
    with pytest.raises(AssertionError, match="folder was not found"):
        zoo.main(["enjoy", "--algo", "soft_dqn", "--env", "CartPole-v1", "-f", str(tmp_path), "--no-render"])


# --------------------------------------------------------------------------------------
# heartbeat storage and per-trial seeds, in process
# --------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_journal_heartbeat_fails_only_silent_trials(tmp_path):
    backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.log"))
    storage = zoo_storage.HeartbeatJournalStorage(backend, heartbeat_interval=1)
    study = optuna.create_study(storage=storage, study_name="s")
    alive, dead, legacy = study.ask(), study.ask(), study.ask()
    for trial in (alive, dead):
        storage.record_heartbeat(trial._trial_id)
    # The dead worker's last heartbeat is older than the grace period (2 s).
    storage.set_trial_system_attr(dead._trial_id, zoo_storage.HEARTBEAT_ATTR, time.time() - 3)
    assert zoo_storage.fail_stale_trials(study) == [dead.number]
    states = {t.number: t.state for t in study.trials}
    # A trial without any heartbeat (a worker without one) is left alone, as optuna does for RDB.
    assert states == {alive.number: TrialState.RUNNING, dead.number: TrialState.FAIL, legacy.number: TrialState.RUNNING}
    # The storage re-read from the file by another process sees the same.
    again = optuna.load_study(storage=optuna.storages.JournalStorage(backend), study_name="s")
    assert [t.state for t in again.trials] == [TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING]
    with pytest.raises(ValueError):
        zoo_storage.HeartbeatJournalStorage(backend, heartbeat_interval=0)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_max_total_trials_does_not_count_a_dead_workers_trial(tmp_path):
    """rl-zoo3's --max-total-trials counts RUNNING trials; one whose worker just died (heartbeat still
    fresh) must not end the study one trial short: the bridge waits one grace period, then recounts."""
    storage = zoo_storage.open_storage(str(tmp_path / "s.log"), 1)
    study = optuna.create_study(storage=storage, study_name="s")
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.0))
    zombie = study.ask()
    storage.record_heartbeat(zombie._trial_id)  # its last sign of life
    states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)
    callback = zoo_storage._stale_aware_max_trials(zoo_storage._grace_period(storage))(3, states=states)
    start = time.monotonic()
    study.optimize(lambda t: 1.0, n_trials=5, callbacks=[callback])
    assert time.monotonic() - start >= 2  # the grace period
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL, *[TrialState.COMPLETE] * 2]


def _expected_params(seed: int, numbers) -> dict[int, dict]:
    """Hyperparameters trial k of a -optimize study with --sampler random --seed seed draws."""
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER

    zoo.register("train")
    sampler = zoo_storage.PerTrialSeedSampler(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    study = optuna.create_study(sampler=sampler)
    expected = {}
    for number in range(max(numbers) + 1):
        trial = study.ask()
        HYPERPARAMS_SAMPLER["soft_dqn"](trial, 2, 1, {"using_her_replay_buffer": False})
        study.tell(trial, 0.0)
        expected[number] = trial.params
    return {n: expected[n] for n in numbers}


def test_per_trial_seeds_do_not_depend_on_history():
    make = lambda s: optuna.samplers.RandomSampler(seed=s)  # noqa: E731
    uninterrupted = optuna.create_study(sampler=zoo_storage.PerTrialSeedSampler(make, 3))
    for _ in range(4):
        uninterrupted.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    # Another worker with the same seed, after trials 0 and 1 were done (one of them failed).
    resumed = optuna.create_study(sampler=zoo_storage.PerTrialSeedSampler(make, 3))
    resumed.add_trial(uninterrupted.trials[0])
    resumed.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    resumed.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert [t.params for t in resumed.trials[2:]] == [t.params for t in uninterrupted.trials[2:]]
    assert len({t.params["x"] for t in uninterrupted.trials}) == 4


# --------------------------------------------------------------------------------------
# -optimize workers killed with SIGKILL
# --------------------------------------------------------------------------------------
# "The requested trials" of these studies: --max-total-trials M, the study-wide budget that rl-zoo3
# counts as COMPLETE + PRUNED + RUNNING trials (the pruner is off: COMPLETE only); a RUNNING trial
# counts only while its worker is alive. So the study must end with exactly M COMPLETE trials, the
# killed worker's trial FAIL, and none RUNNING. (--n-trials would count per worker instead.)
MAX_TOTAL = 3
HEARTBEAT = 1  # seconds; grace period 2 s


def _optimize(conf: Path, logs: Path, storage: str, seed: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "sb3_softopt.zoo", "--heartbeat", str(HEARTBEAT),
        "train", "--algo", "soft_dqn", "--env", "CartPole-v1", "-conf", str(conf), "-f", str(logs),
        "-n", "400", "-optimize", "--max-total-trials", str(MAX_TOTAL), "--n-evaluations", "1",
        "--eval-episodes", "2", "--sampler", "random", "--pruner", "none", "--seed", str(seed),
        "--num-threads", "1", "--no-optim-plots", "--verbose", "0", "--storage", storage, "--study-name", "s",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)


def _load(storage: str) -> optuna.Study:
    if storage.endswith(".log"):
        if not os.path.exists(storage):
            raise KeyError(storage)  # as load_study does for a missing study
        backend = optuna.storages.journal.JournalFileBackend(storage)
        return optuna.load_study(storage=optuna.storages.JournalStorage(backend), study_name="s")
    return optuna.load_study(storage=storage, study_name="s")


def _has_heartbeat(storage: str, trial: optuna.trial.FrozenTrial) -> bool:
    if storage.endswith(".log"):
        return zoo_storage.HEARTBEAT_ATTR in trial.system_attrs
    import sqlalchemy

    engine = sqlalchemy.create_engine(storage)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text("SELECT count(*) FROM trial_heartbeats WHERE trial_id = :id")
            return connection.execute(query, {"id": trial._trial_id}).scalar() > 0
    finally:
        engine.dispose()


def _kill_during_trial(storage: str, victim: subprocess.Popen, others=(), min_complete: int = 0) -> int:
    """SIGKILL ``victim`` while it runs a trial that already sent a heartbeat; return that trial's number."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for proc in (victim, *others):
            if proc.poll() is not None:
                pytest.fail(f"worker exited early ({proc.returncode}):\n{proc.communicate()[0]}")
        try:
            trials = _load(storage).trials
        except KeyError:  # the study does not exist yet
            trials = []
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        for trial in trials:
            ours = trial.user_attrs.get("worker", "").endswith(f":{victim.pid}")
            ready = ours and trial.state == TrialState.RUNNING and complete >= min_complete
            if ready and _has_heartbeat(storage, trial):
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed = _load(storage).trials[trial.number]
                assert killed.state == TrialState.RUNNING, "the trial ended before the kill landed"
                return trial.number
        time.sleep(0.1)
    pytest.fail("the worker never ran a trial")


def _check_study(storage: str, killed: int, seeds: dict[int, int]) -> optuna.Study:
    study = _load(storage)
    study.trials_dataframe()  # readable as a whole
    states = {t.number: t.state for t in study.trials}
    assert states[killed] == TrialState.FAIL
    assert TrialState.RUNNING not in states.values()
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == MAX_TOTAL and all(t.value is not None for t in complete)
    # Trial k drew the hyperparameters trial k of an uninterrupted run with its worker's seed draws.
    # (The killed trial may have died while sampling: it holds the first of them only.)
    for trial in study.trials:
        seed = seeds[int(trial.user_attrs["worker"].rsplit(":", 1)[1])]
        expected = _expected_params(seed, [trial.number])[trial.number]
        if trial.state == TrialState.FAIL:
            expected = {key: value for key, value in expected.items() if key in trial.params}
        assert trial.params == expected
    return study


def _run_killed_worker_scenario(tmp_path: Path, storage: str) -> None:
    conf = _conf(tmp_path)
    a = _optimize(conf, tmp_path / "logs_a", storage, seed=1)
    b = _optimize(conf, tmp_path / "logs_b", storage, seed=2)
    try:
        killed = _kill_during_trial(storage, a, others=(b,))
        out_b = b.communicate(timeout=300)[0]
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert b.returncode == 0, out_b
    assert "marked FAIL" in out_b
    study = _check_study(storage, killed, {a.pid: 1, b.pid: 2})
    assert study.trials[killed].user_attrs["worker"].endswith(f":{a.pid}")


def test_killed_worker_journal(tmp_path):
    """Two workers share a journal-file study; one is SIGKILLed mid-trial, the other finishes it."""
    _run_killed_worker_scenario(tmp_path, str(tmp_path / "optuna" / "study.log"))


def test_killed_study_resumes_without_redoing_trials(tmp_path):
    """A journal study killed mid-run and run again with the same command: finished trials stay as
    they were, the killed one is FAIL, and the run completes the budget with new trials only."""
    conf, storage = _conf(tmp_path), str(tmp_path / "study.log")
    first = _optimize(conf, tmp_path / "logs", storage, seed=5)
    try:
        killed = _kill_during_trial(storage, first, min_complete=1)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    finished = [t for t in _load(storage).trials if t.state == TrialState.COMPLETE]
    done = {t.number: (t.params, t.value, t.datetime_complete) for t in finished}
    assert done and killed not in done
    again = _optimize(conf, tmp_path / "logs", storage, seed=5)
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    study = _check_study(storage, killed, {first.pid: 5, again.pid: 5})
    for number, record in done.items():
        trial = study.trials[number]
        assert (trial.params, trial.value, trial.datetime_complete) == record
    # The second run only ran new trials: the budget minus what was finished.
    rerun = [t for t in study.trials if t.user_attrs["worker"].endswith(f":{again.pid}")]
    assert len(rerun) == MAX_TOTAL - len(done) and all(t.number > killed for t in rerun)


# --------------------------------------------------------------------------------------
# the same across machines: an RDB url, against a real PostgreSQL server
# --------------------------------------------------------------------------------------
PG_BIN = Path(os.environ.get("SOFTOPT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL cluster (Debian's ``postgresql`` package) on a free local port."""
    if not all((PG_BIN / name).is_file() for name in ("initdb", "postgres", "pg_isready", "createdb")):
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN} (apt-get install postgresql, or set SOFTOPT_PG_BIN)")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install 'psycopg[binary]')")
    pytest.importorskip("sqlalchemy")
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        import pwd

        try:
            user = pwd.getpwnam("nobody").pw_name
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to run postgres as")
    root = Path(tempfile.mkdtemp(prefix="softopt-pg-"))
    if user is not None:
        shutil.chown(root, user)
    port = _free_port()
    run = {"user": user, "capture_output": True, "text": True, "timeout": 120, "check": False}
    initdb = [str(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "--no-sync"]
    init = subprocess.run(initdb, **run)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    server = subprocess.Popen(
        [str(PG_BIN / "postgres"), "-D", str(root / "data"), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        address = ["-h", "127.0.0.1", "-p", str(port)]
        for _ in range(300):
            if subprocess.run([str(PG_BIN / "pg_isready"), *address], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        created = subprocess.run([str(PG_BIN / "createdb"), *address, "-U", "postgres", "optuna"], **run)
        assert created.returncode == 0, created.stderr
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/optuna"
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_killed_worker_postgresql(tmp_path, postgres_url):
    """As test_killed_worker_journal, with the study in PostgreSQL (optuna's own RDB heartbeat)."""
    _run_killed_worker_scenario(tmp_path, postgres_url)
