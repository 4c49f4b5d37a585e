"""Interrupted work loses nothing: the resumable commands, SIGKILLed mid-run and resumed.

Each kill test starts the real command in its own session, waits until it has finished a first
unit of work, SIGKILLs it (no exception handler, no cleanup runs), plants a half-written result
where a unit was in progress (what a kill in the middle of a non-atomic write would leave), then
reruns the command and checks that (a) finished units are reused, not recomputed (same inode and
mtime), (b) the planted file is not trusted (named on stderr) and its unit recomputed, (c) the
results equal those of an uninterrupted run with the same seeds, exactly: every run is
single-threaded and seeded (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)`` in the workers).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_path, atomic_write_json, is_trusted, load_curve, load_json
from sb3_softopt.experiments import finetune as ft
from sb3_softopt.lecture import registry, runner
from sb3_softopt.lecture.__main__ import main as lecture_main

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
TIMEOUT = 600  # generous: the machine may be shared


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    # A session of its own: os.killpg reaches the command and every worker it started.
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(proc: subprocess.Popen, ready, log: Path, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the command ended (rc {proc.returncode}) before the kill:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "timed out waiting for a first finished unit"
        time.sleep(0.01)


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# The shared helpers
# ---------------------------------------------------------------------------------------------
def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"a": 2, "trunc')
        raise RuntimeError("killed mid-write")
    assert load_json(target) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary left behind


@pytest.mark.parametrize(
    "text, match",
    [('{"quick": true, "res', "truncated"), ("[1, 2]", "not a JSON object"), ('{"quick": false}', "quick=False")],
)
def test_load_json_rejects_untrustworthy_files(tmp_path, text, match):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(InvalidResult, match=match):
        load_json(path, expect={"quick": True})
    with pytest.raises(FileNotFoundError):
        load_json(tmp_path / "absent.json")


def test_load_curve_and_is_trusted(tmp_path, capsys):
    path = tmp_path / "c.csv"
    cols, steps = ("step", "r"), [0, 10, 20]
    path.write_text("step,r\n0,1.5\n10,2\n20,3.25\n")
    assert [float(r["r"]) for r in load_curve(path, cols, "step", steps, finite=("r",))] == [1.5, 2.0, 3.25]
    for bad in ("step,r\n0,1.5\n10,2\n20,3.2", "step,r\n0,1.5\n10,2\n", "step,r\n0,1.5\n10,nan\n20,1\n", "step\n0\n10\n20\n"):
        path.write_text(bad)
        with pytest.raises(InvalidResult):
            load_curve(path, cols, "step", steps, finite=("r",))
        assert not is_trusted(load_curve, path, cols, "step", steps, ("r",), who="test")
        assert f"test: not trusting {path}" in capsys.readouterr().err
    assert not is_trusted(load_curve, tmp_path / "absent.csv", cols, "step", steps, who="test")
    assert capsys.readouterr().err == ""  # absent = not finished yet, nothing to report


# ---------------------------------------------------------------------------------------------
# lecture all --reuse
# ---------------------------------------------------------------------------------------------
def _fake_claim(pkg: Path, monkeypatch) -> str:
    """The only registered claim: its experiment counts its runs (in ``<out>/runs``)."""
    (pkg / "tests_fake_counted.py").write_text(
        "from pathlib import Path\n"
        "from sb3_softopt.lecture.claim import Claim\n"
        "from sb3_softopt.experiments.lottery import judge\n"
        "CLAIM = Claim('counted', 'Counted', '0', 's', 'c')\n"
        "def run(out_dir, quick=False, seed=0):\n"
        "    f = Path(out_dir) / 'runs'; n = int(f.read_text()) + 1 if f.exists() else 1; f.write_text(str(n))\n"
        "    return {'exact_buy_prob': 0.9, 'variational_buy_prob': 0.1, 'seed_used': seed}\n"
    )
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setattr(registry, "CLAIM_MODULES", {})
    monkeypatch.setattr(registry, "_LOADED", {})
    monkeypatch.delitem(sys.modules, "tests_fake_counted", raising=False)
    return registry.register("tests_fake_counted")


def test_saved_claim_results_are_validated(tmp_path, monkeypatch):
    _fake_claim(tmp_path, monkeypatch)
    out = tmp_path / "report"
    runs = out / "counted" / "runs"
    saved = out / "counted" / runner.RESULT_FILE

    def again(**kw):
        res = runner.run_all(out, progress=False, reuse=True, **kw)[0]
        return res, int(runs.read_text())

    res, n = again()
    assert (res.status, res.reused, n) == ("ok", False, 1)
    res, n = again()
    assert res.reused and n == 1 and res.distrusted is None
    good = saved.read_text()
    # A result from another configuration, claim or module, or a truncated one: rerun, and said.
    for planted, why in [
        (good[: len(good) // 2], "truncated"),
        (good.replace('"quick": false', '"quick": true'), "quick=True"),
        (good.replace('"seed": 0', '"seed": 3'), "seed=3"),
        (good.replace('"claim": "counted"', '"claim": "lottery"'), "claim 'lottery'"),
    ]:
        saved.write_text(planted)
        res, n2 = again()
        assert not res.reused and n2 == n + 1 and why in res.distrusted, (why, res.distrusted)
        assert "not trusted" in (out / "report.md").read_text()
        assert json.loads(saved.read_text()) == json.loads(good) | {"seconds": json.loads(saved.read_text())["seconds"]}
        n = n2
    # --saved-only never runs: an untrusted result makes the claim "not run", with the reason.
    saved.write_text(good[:10])
    res = runner.run_all(out, progress=False, saved_only=True)[0]
    assert res.status == "error" and "truncated" in res.error and int(runs.read_text()) == n


def test_a_failed_rerun_does_not_leave_the_old_result_vouching_for_the_folder(tmp_path, monkeypatch):
    claim = _fake_claim(tmp_path, monkeypatch)
    out = tmp_path / "c"
    assert runner.run_claim(claim, out).status == "ok"

    def fails(out_dir, quick=False, seed=0):
        raise RuntimeError("half-way")

    monkeypatch.setattr(registry.get(claim), "run", fails)
    assert runner.run_claim(claim, out).status == "error"
    assert not (out / runner.RESULT_FILE).exists()
    assert runner.run_claim(claim, out, reuse=True).status == "error"  # rerun, not reused


def test_lecture_all_reuse_after_sigkill(tmp_path):
    cmd = [sys.executable, "-m", "sb3_softopt.lecture", "all", "--quick", "--only", "lottery", "reaching", "--reuse", "--out"]
    out, ref = tmp_path / "killed", tmp_path / "reference"
    log = tmp_path / "killed.log"
    proc = _start(cmd + [str(out)], log)
    first = out / "lottery" / runner.RESULT_FILE
    _wait_for(proc, first.exists, log)
    _killpg(proc)
    finished = {p: _stamp(p) for p in (out / "lottery").iterdir()}
    # Whether or not reaching got to the end, leave it a half-written result, as a kill in the
    # middle of a plain write_text would.
    half = out / "reaching" / runner.RESULT_FILE
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_text('{"claim": "reaching", "quick": true, "seed": 0, "module": "sb3_softopt.experiments.reaching", "res')

    resumed = _run(cmd + [str(out)])
    said = {line.split(":")[0]: line for line in resumed.stdout.splitlines() if line.startswith("[lecture] ") and ": " in line}
    assert "(reused," in said["[lecture] lottery"]
    assert "saved result not trusted" in resumed.stdout and "(rerun," in said["[lecture] reaching"]
    assert {p: _stamp(p) for p in finished} == finished  # (a) nothing of lottery recomputed
    assert load_json(half)["result"]  # (b) recomputed and whole

    # The reference runs the same command line in this process (saves the interpreter start-up).
    lecture_main(cmd[3:] + [str(ref)])
    for claim in ("lottery", "reaching"):  # (c) the same numbers, verdicts and tables
        got, want = (json.loads((d / claim / runner.RESULT_FILE).read_text()) for d in (out, ref))
        assert got["result"] == want["result"], claim
        for csv in sorted((ref / claim).glob("*.csv")):
            assert (out / claim / csv.name).read_bytes() == csv.read_bytes(), csv.name
    got, want = (json.loads((d / "report.json").read_text())["claims"] for d in (out, ref))
    for claim in want:
        assert {k: got[claim][k] for k in ("verdict", "reason", "numbers")} == {k: want[claim][k] for k in ("verdict", "reason", "numbers")}


# ---------------------------------------------------------------------------------------------
# finetune
# ---------------------------------------------------------------------------------------------
def test_finetune_rejects_incomplete_or_foreign_results(tmp_path):
    bud = ft.BUDGETS["quick"]
    curve = ft._curve_path(tmp_path, "T-v0", "ddpg_scratch", 0)
    curve.parent.mkdir(parents=True)
    curve.write_text("step,eval_return\n0,1\n150,2\n300,3\n")
    ft._check_curve(curve, bud)
    curve.write_text("step,eval_return\n0,1\n150,2\n")  # a curve cut short
    with pytest.raises(InvalidResult):
        ft._check_curve(curve, bud)
    pre = tmp_path / "pretrain"
    pre.mkdir()
    info = {"algo": "sac", "seed": 0, "env": "P-v0", "steps": bud.pretrain_steps, "eval": [], "cpu_s": 1.0}
    info["coverage"] = {"explore": {}, "deterministic": {}}
    atomic_write_json(pre / "sac_seed0.json", info)
    ft._check_pretrain(tmp_path, "sac", 0, "P-v0", bud, need_model=False)
    with pytest.raises(InvalidResult, match="zip"):  # the json without the model a finetuning needs
        ft._check_pretrain(tmp_path, "sac", 0, "P-v0", bud)
    (pre / "sac_seed0.zip").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(InvalidResult, match="zip"):
        ft._check_pretrain(tmp_path, "sac", 0, "P-v0", bud)
    with pytest.raises(InvalidResult, match="steps"):  # made with another budget
        ft._check_pretrain(tmp_path, "sac", 0, "P-v0", ft.BUDGETS["default"])


def _finetune_outputs(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    for key in ("wall_s", "cpu_s", "ran"):  # timings and bookkeeping, not results
        summary.pop(key)
    pre = {}
    for f in sorted((out / "pretrain").glob("*.json")):
        info = json.loads(f.read_text())
        pre[f.name] = {k: v for k, v in info.items() if k not in ("wall_s", "cpu_s")}
    curves = {str(f.relative_to(out)): f.read_text() for f in sorted((out / "curves").rglob("*.csv"))}
    return {"summary": summary, "pretrain": pre, "curves": curves, "curves.csv": (out / "curves.csv").read_text()}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_finetune_resume_after_sigkill(tmp_path):
    """Kill the parent alone first: its pool worker must exit by itself, not finish its job."""
    out, ref = tmp_path / "killed", tmp_path / "reference"
    args = ["--quick", "--seeds", "1", "--arms", "ddpg_scratch", "sac_pretrained", "--finetune-env", "PointHallway-v0:70"]
    cmd = [sys.executable, "-m", "sb3_softopt.experiments.finetune", *args, "--workers", "1", "--no-progress", "--out"]
    log = tmp_path / "killed.log"
    proc = _start(cmd + [str(out)], log)
    pretrained = out / "pretrain" / "sac_seed0.json"
    _wait_for(proc, pretrained.exists, log)
    workers = _children(proc.pid)
    assert workers, "no pool worker found"
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [w for w in workers if _alive(w)]
    _killpg(proc)
    assert not orphans, "workers outlived their SIGKILLed parent"
    finished = {p: _stamp(p) for p in (out / "pretrain").iterdir()}
    done = [p for p in (out / "curves").rglob("*.csv")] if (out / "curves").exists() else []
    finished.update({p: _stamp(p) for p in done})
    half = ft._curve_path(out, "PointHallway-v0", "sac_pretrained", 0)
    assert not half.exists(), "the run went too far before the kill"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_text("step,eval_return\n0,-3.1\n150,4")  # as a kill mid-write would leave it

    resumed = _run(cmd + [str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ran"] == {"pretrain": 0, "finetune": 2 - len(done)}
    assert f"not trusting {half}" in resumed.stderr
    assert {p: _stamp(p) for p in finished} == finished  # (a)
    ft._check_curve(half, ft.BUDGETS["quick"])  # (b)

    ft.main(cmd[3:] + [str(ref)])  # the same command line, in this process
    assert _finetune_outputs(out) == _finetune_outputs(ref)  # (c)


# ---------------------------------------------------------------------------------------------
# benchmarks/sac.py pendulum
# ---------------------------------------------------------------------------------------------
def _bench(name: str):
    """``benchmarks/<name>.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _whole_run(bench, path: Path, *args):
    """A predicate for :func:`_wait_for`: ``path`` holds a whole run of ``bench``."""

    def done() -> bool:
        try:
            bench._finished_run(path, *args)
            return True
        except (FileNotFoundError, InvalidResult):
            return False

    return done


def test_pendulum_reuses_only_whole_runs(tmp_path):
    bench = _bench("sac")
    path = tmp_path / "sac_pendulum_sb3_softopt_seed0.csv"
    rows = [dict(algo="sb3_softopt", seed=0, timesteps=t, eval_return=-1234.5678901234567 + t, seconds=0.1 * t) for t in (30, 60, 90, 120)]
    bench._write_csv(path, rows)
    assert bench._finished_run(path, "sb3_softopt", 0, 120) == rows  # the exact floats
    # A whole file is returned without training (the model class is never built).
    assert bench._pendulum_run(("sb3_softopt", 0, 120, tmp_path)) == rows
    for planted in (path.read_text()[:-12], "\n".join(path.read_text().splitlines()[:3])):
        path.write_text(planted)
        with pytest.raises(InvalidResult):
            bench._finished_run(path, "sb3_softopt", 0, 120)
    bench._write_csv(path, rows)
    with pytest.raises(InvalidResult, match="seed 1"):  # another run's curve
        bench._finished_run(path, "sb3_softopt", 1, 120)
    with pytest.raises(InvalidResult):  # another budget
        bench._finished_run(path, "sb3_softopt", 0, 200)


@pytest.mark.slow
def test_pendulum_resume_after_sigkill(tmp_path):
    out, ref = tmp_path / "killed", tmp_path / "reference"
    cmd = [sys.executable, "benchmarks/sac.py", "pendulum", "--seeds", "2", "--steps", "120", "--workers", "1", "--out"]
    log = tmp_path / "killed.log"
    proc = _start(cmd + [str(out)], log)
    first = out / "sac_pendulum_sb3_softopt_seed0.csv"
    bench = _bench("sac")

    _wait_for(proc, _whole_run(bench, first, "sb3_softopt", 0, 120), log)
    _killpg(proc)
    finished = _stamp(first)
    half = out / "sac_pendulum_sb3_softopt_seed1.csv"
    assert not half.exists() or half.read_text().count("\n") < 5, "the run went too far before the kill"
    half.write_text("algo,seed,timesteps,eval_return,seconds\nsb3_softopt,1,30,-1200.5,1.0\nsb3_softopt,1,60,-11")

    resumed = _run(cmd + [str(out)])
    assert f"not trusting {half}" in resumed.stderr
    assert _stamp(first) == finished  # (a)
    assert len(bench._finished_run(half, "sb3_softopt", 1, 120)) == 4  # (b)

    _run(cmd + [str(ref)])
    got, want = (json.loads((d / "sac_pendulum.json").read_text()) for d in (out, ref))
    for key in ("final_returns", "median_final_return", "seeds", "steps"):  # (c)
        assert got[key] == want[key], key
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(got["rows"]) == strip(want["rows"])


# ---------------------------------------------------------------------------------------------
# benchmarks/sql.py pendulum
# ---------------------------------------------------------------------------------------------
def test_sql_pendulum_reuses_only_whole_runs(tmp_path):
    bench = _bench("sql")
    path = tmp_path / "sql_pendulum_sql_seed0.csv"
    rows = [
        dict(algo="sql", seed=0, timesteps=t, eval_return=-1234.5678901234567 + t, eval_std=0.1 * t, train_seconds=0.01 * t)
        for t in (30, 60, 90, 120)
    ]
    bench._write_csv(path, rows)
    assert bench._finished_run(path, "sql", 0, 120) == rows  # the exact floats
    assert bench._pendulum_run(("sql", 0, 120, str(tmp_path))) == rows  # reused, not trained
    for planted in (path.read_text()[:-12], "\n".join(path.read_text().splitlines()[:3])):
        path.write_text(planted)
        with pytest.raises(InvalidResult):
            bench._finished_run(path, "sql", 0, 120)
    bench._write_csv(path, rows)
    with pytest.raises(InvalidResult, match="sac seed 0"):  # another algorithm's curve
        bench._finished_run(path, "sac", 0, 120)


@pytest.mark.slow
def test_sql_pendulum_resume_after_sigkill(tmp_path):
    out, ref = tmp_path / "killed", tmp_path / "reference"
    cmd = [sys.executable, "benchmarks/sql.py", "pendulum", "--seeds", "0", "1", "--steps", "120", "--workers", "1", "--out"]
    log = tmp_path / "killed.log"
    proc = _start(cmd + [str(out)], log)
    bench = _bench("sql")
    first = out / "sql_pendulum_sql_seed0.csv"

    _wait_for(proc, _whole_run(bench, first, "sql", 0, 120), log)
    _killpg(proc)
    finished = _stamp(first)
    half = out / "sql_pendulum_sql_seed1.csv"
    half.write_text("algo,seed,timesteps,eval_return,eval_std,train_seconds\nsql,1,30,-1200.5,3.0,1.0\nsql,1,60,-11")

    resumed = _run(cmd + [str(out)])
    assert f"not trusting {half}" in resumed.stderr
    assert _stamp(first) == finished  # (a)
    assert len(bench._finished_run(half, "sql", 1, 120)) == 4  # (b)

    _run(cmd + [str(ref)])
    got, want = (json.loads((d / "sql_pendulum.json").read_text()) for d in (out, ref))
    for key in ("final_returns", "median_final_return", "seeds", "steps"):  # (c)
        assert got[key] == want[key], key
