"""tests/conftest.py: with CI set, a skip (of a test or of a whole module) fails the run unless it is allowed."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

SUITE = '''
import pytest

missing = pytest.importorskip("wptk_no_such_module", reason="not installed")
'''
TESTS = '''
import pytest


def test_skipped():
    pytest.skip("shared data absent")


@pytest.mark.allowed_skip(reason="genuinely inapplicable")
def test_allowed():
    pytest.skip("inapplicable here")


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


def test_passes():
    pass
'''


def run_pytest(tmp_path, ci):
    """Runs the two files above with this suite's conftest; returns [(exit status, output)] per file."""
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_module_skip.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "test_skips.py").write_text(TESTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    results = []
    for name in ("test_module_skip.py", "test_skips.py"):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", name],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        results.append((proc.returncode, proc.stdout))
    return results


def test_skips_pass_outside_ci(tmp_path):
    (module_code, module_out), (code, out) = run_pytest(tmp_path, ci=False)
    assert module_code == 5 and "1 skipped" in module_out, module_out     # 5: no test ran
    assert code == 0 and "1 passed, 2 skipped, 1 xfailed" in out, out


def test_skips_fail_in_ci_with_their_reason(tmp_path):
    (module_code, module_out), (code, out) = run_pytest(tmp_path, ci=True)
    assert module_code != 0, module_out
    assert "skipped while CI is set (a feature would go untested): not installed" in module_out, module_out
    assert code == 1 and "1 failed, 1 passed, 1 skipped, 1 xfailed" in out, out
    assert "skipped while CI is set (a feature would go untested): shared data absent" in out
    assert "SKIPPED [1] test_skips.py" in out and "inapplicable here" in out     # the allowed skip stays a skip
