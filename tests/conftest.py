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


# The Beam pipeline's tests (test_beam_*.py) share a corpus and one reference run; wptk.beam.testing is imported
# only when one of them asks, so the rest of the suite runs without Beam.

@pytest.fixture(scope="module")
def docs():
    from wptk.beam.testing import make_documents
    return make_documents()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, docs):
    from wptk.beam.testing import corpus_text
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_bytes(corpus_text(docs).encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory, corpus):
    """The reference run: one input file read in ~2 KB ranges (many splits), in-process FnApiRunner."""
    from wptk.beam.testing import outputs, run
    summary, directory = run(tmp_path_factory.mktemp("base"), corpus, "out", "--input_split_mb=0.002")
    return summary, directory, outputs(directory)
