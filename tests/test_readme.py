"""The README's examples work as written: its Python blocks run (and print what their comments show), its
`wptk` and `python -m pipelines...` commands exit 0. They run from the repository root; /tmp/ paths go to a
temporary directory."""
import ast
import os
import re
import subprocess
import sys

from wptk.testing import REPO_ROOT, require_shared

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(python|bash)\n(.*?)```", README, re.S)
MULTILINGUAL_VOCAB = "bert-base-multilingual-cased.vocab.txt"
# Commands that need what a test cannot have (a cloud project, a cluster) or that other tests run.
NOT_HERE = ("gs://", "DataflowRunner", "FlinkRunner", "SparkRunner", "DaskRunner", "PortableRunner", "wptk demo")


def python_blocks():
    return [code for kind, code in BLOCKS if kind == "python"]


def commands():
    """The `wptk` and `python -m pipelines...` commands of the bash blocks, continuation lines joined."""
    found = []
    for kind, code in BLOCKS:
        if kind != "bash":
            continue
        for command in code.replace("\\\n", " ").splitlines():
            command = command.split("  #")[0].strip()
            runs_wptk = command.startswith(("wptk ", "python -m pipelines.")) or "| wptk " in command
            if runs_wptk and not any(word in command for word in NOT_HERE):
                found.append(command)
    return found


def run_checking_comments(code, namespace, where):
    """Runs `code`; an expression statement followed by a comment line holding a Python literal must equal it."""
    lines = code.splitlines()
    for statement in ast.parse(code).body:
        exec(compile(ast.Module([statement], []), where, "exec"), namespace)
        following = lines[statement.end_lineno] if statement.end_lineno < len(lines) else ""
        if isinstance(statement, ast.Expr) and following.startswith("# "):
            try:
                expected = ast.literal_eval(following[2:])
            except (ValueError, SyntaxError):
                continue
            assert eval(compile(ast.Expression(statement.value), where, "eval"), namespace) == expected


def test_the_examples_are_found():
    assert len(python_blocks()) >= 4 and len(commands()) >= 8


def test_python_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    namespace = {}
    for number, code in enumerate(python_blocks()):
        if MULTILINGUAL_VOCAB not in code:
            run_checking_comments(code.replace("/tmp/", f"{tmp_path}/"), namespace, f"README python block {number}")
    assert (tmp_path / "a.tfrecord").stat().st_size > 0


def test_multilingual_example(monkeypatch):
    monkeypatch.chdir(require_shared() / "vocab")
    import wptk
    [code] = [code for code in python_blocks() if MULTILINGUAL_VOCAB in code]
    run_checking_comments(code, {"wptk": wptk}, "README multilingual block")


def test_command_examples(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    for command in commands():
        command = command.replace("/tmp/", f"{tmp_path}/")
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command.replace("| head -3", "| head -3 >/dev/null")],
                              cwd=REPO_ROOT, env=env, capture_output=True, timeout=300)
        assert proc.returncode == 0, f"{command}\n{proc.stderr.decode('utf-8', 'replace')}"
