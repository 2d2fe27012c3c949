"""tools/compare_outputs.py: a checkout compared with itself is the same; one whose bundled sample differs is not."""
import shutil
import subprocess
import sys

from wptk.testing import REPO_ROOT, require_shared

SCRIPT = REPO_ROOT / "tools" / "compare_outputs.py"


def compare(*args):
    proc = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=REPO_ROOT, capture_output=True,
                          text=True)
    cases = [line for line in proc.stdout.splitlines() if line.split(" ", 1)[0] in ("same", "DIFFERENT", "FAILED")]
    return proc, cases


def test_this_checkout_twice_gives_the_same_bytes():
    require_shared()
    kinds = ("cpd/default", "cpd/golden/austen_wwm", "pipeline/1-worker/default", "count/default",
             "tokenize/multi/multilingual/ids")      # one quick case of each kind
    proc, cases = compare("--base", ".", "--head", ".", "--quick", "--only", ",".join(kinds))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [line.split()[1] for line in cases]
    for kind in kinds:
        assert any(name.startswith(kind) for name in names), f"no {kind} case ran"
    assert all(line.startswith("same ") for line in cases)


def test_a_head_whose_sample_text_differs_is_caught(tmp_path):
    """The head is a copy of this checkout (built kernels included) with one more sentence in wptk/data/sample.txt;
    the copy must be the code that runs (the script checks it), and its records differ."""
    require_shared()
    head = tmp_path / "head"
    for package in ("wptk", "pipelines"):
        shutil.copytree(REPO_ROOT / package, head / package, ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    with open(head / "wptk" / "data" / "sample.txt", "a", encoding="utf-8") as sample:
        sample.write("And one sentence more.\n")
    proc, cases = compare("--base", ".", "--head", head, "--quick", "--only", "cpd/default,cpd/golden/austen_wwm")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"head: {head.resolve()} (wptk from {head.resolve() / 'wptk' / '__init__.py'})" in proc.stdout
    assert cases[0].startswith("DIFFERENT  cpd/default ") and cases[0].endswith(": train.tfrecord")
    assert cases[1].startswith("same       cpd/golden/austen_wwm ")      # shared inputs: unchanged


def test_a_directory_that_is_not_a_checkout_is_a_one_line_error(tmp_path):
    proc, _ = compare("--base", ".", "--head", tmp_path)
    assert proc.returncode == 2 and proc.stdout.count("\n") == 1      # only the base's line
    assert proc.stderr == f"compare_outputs.py: error: --head {tmp_path.resolve()}: not a wptk checkout " \
                          "(no wptk/__init__.py)\n"
