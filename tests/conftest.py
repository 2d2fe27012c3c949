"""Shared pytest set-up: no silent skips in CI (the tests' helpers are in wptk.testing).

When the environment variable CI is set (`.ci/run` runs with CI=true), a skipped test or module fails the run with
its skip reason: a missing package or missing shared data there means a feature went untested, not a test that does
not apply. A skip that is right even in CI must say so with `@pytest.mark.allowed_skip(reason=...)`.
"""
import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "allowed_skip(reason): this test may be skipped even when CI is set")


def _fail_skip_in_ci(report, allowed):
    """Turns a skip report into a failure that names the skip's reason, when CI is set and the skip is not allowed."""
    if not os.environ.get("CI") or not report.skipped or allowed or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped while CI is set (a feature would go untested): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), item.get_closest_marker("allowed_skip") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), False)     # a whole module skipped (importorskip at import time)

