"""Shared pytest setup: one torch thread per worker, a headless matplotlib, and a check of the
number of skipped tests (``--expected-skips N`` or ``SOFTOPT_EXPECTED_SKIPS=N``: the run fails when
the count differs, so a test that starts skipping silently, e.g. for a missing extra, fails CI),
and the ``source_tree`` marker: a test that reads the repository's files through the package (the
shipped configs next to it, the benchmarks, the docs) skips, saying so, when the package under test
is a regular install rather than this checkout's source."""

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

torch.set_num_threads(1)


EXPECTED_SKIPS_ENV = "SOFTOPT_EXPECTED_SKIPS"
REPO = Path(__file__).resolve().parents[1]


def _package_is_source_tree() -> bool:
    """Whether ``import sb3_softopt`` is this checkout's source (editable install or ``PYTHONPATH``)."""
    import sb3_softopt

    return Path(sb3_softopt.__file__).resolve().parents[1] == REPO


def pytest_configure(config):
    config.addinivalue_line("markers", "source_tree: the test needs the package to be this checkout's source")


def pytest_collection_modifyitems(config, items):
    if _package_is_source_tree():
        return
    import sb3_softopt

    skip = pytest.mark.skip(reason=f"needs the source tree: sb3_softopt is imported from {Path(sb3_softopt.__file__).parent}, not {REPO}")
    for item in items:
        if "source_tree" in item.keywords:
            item.add_marker(skip)


def pytest_addoption(parser):
    parser.addoption(
        "--expected-skips",
        type=int,
        default=None,
        help=f"fail the run unless exactly this many tests are skipped (default: ${EXPECTED_SKIPS_ENV}, unset: no check)",
    )


def _expected_skips(config):
    value = config.getoption("--expected-skips")
    if value is None and os.environ.get(EXPECTED_SKIPS_ENV, "") != "":
        value = int(os.environ[EXPECTED_SKIPS_ENV])
    return value


def _skipped_reports(config):
    """The skip reports the terminal summary counts (under xdist: the controller's, all workers')."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return [] if reporter is None else list(reporter.stats.get("skipped", []))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    expected = _expected_skips(config)
    if expected is None or hasattr(config, "workerinput"):  # an xdist worker: the controller checks
        return
    got = len(_skipped_reports(config))
    if got != expected:
        config._softopt_skip_error = f"{got} tests skipped, {expected} expected ({EXPECTED_SKIPS_ENV} / --expected-skips)"
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    error = getattr(config, "_softopt_skip_error", None)
    if error:
        terminalreporter.write_sep("=", "unexpected number of skipped tests", red=True, bold=True)
        terminalreporter.write_line(error)
        for rep in _skipped_reports(config):
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            terminalreporter.write_line(f"  {rep.nodeid or rep.fspath}: {reason}")


@pytest.fixture
def tmp_out(tmp_path):
    """A fresh output folder for experiments and saved models."""
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.fixture(autouse=True, scope="module")
def _undo_zoo_registration():
    """rl-zoo3 patches made by a test module's ``zoo.register`` calls do not leak into the next module."""
    yield
    import sys

    zoo = sys.modules.get("sb3_softopt.zoo")
    if zoo is not None:
        zoo.unregister()
