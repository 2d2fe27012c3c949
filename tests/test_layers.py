"""The package's layers: dependencies run one way, native kernels <- library <- Beam transforms <- command lines.

Read from the source (every import statement, also those inside functions), so an import added anywhere counts.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wptk"

# Modules of the command-line layer: wptk's commands and what only commands use.
COMMAND_LINE = {"wptk.cli", "wptk.__main__", "wptk.flags", "wptk.program"} | {
    f"wptk.{p.stem}" for p in PACKAGE.glob("cmd_*.py")}
# The Beam jobs' command lines (flags, run()) and how they run a job, and the tests' helpers that run one; below
# them, the transforms.
BEAM_JOBS = {"wptk.beam.create_pretraining_data", "wptk.beam.word_count", "wptk.beam.runner", "wptk.beam.testing"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """The absolute module names `path` imports (relative imports resolved), anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)   # `from wptk import cmd_demo`
    return found


def sources():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "build" not in p.parts}


def layer(name):
    if name in COMMAND_LINE:
        return "command line"
    if name in BEAM_JOBS:
        return "beam job"
    if name.startswith("wptk.beam"):
        return "beam"
    return "library"


def within(imported, modules):
    return any(imported == m or imported.startswith(m + ".") for m in modules)


FORBIDDEN = {   # a module of this layer never imports these
    "library": COMMAND_LINE | BEAM_JOBS | {"wptk.beam", "pipelines"},
    "beam": COMMAND_LINE | BEAM_JOBS | {"pipelines"},
    "beam job": {"wptk.cli", "wptk.__main__", "pipelines"} | {m for m in COMMAND_LINE if m.startswith("wptk.cmd_")},
    "command line": {"pipelines"},
}


@pytest.mark.parametrize("name", sorted(sources()))
def test_a_module_imports_nothing_above_its_layer(name):
    wrong = sorted(m for m in imports_of(sources()[name]) if within(m, FORBIDDEN[layer(name)] - {name}))
    assert not wrong, f"{name} ({layer(name)}) imports {wrong}"


def test_only_wptk_beam_imports_apache_beam():
    importers = sorted(name for name, path in sources().items()
                       if any(within(m, {"apache_beam"}) for m in imports_of(path)))
    assert importers and all(name.startswith("wptk.beam") for name in importers), importers


def test_the_modules_import_graph_has_no_cycle():
    modules = sources()
    graph = {name: sorted(m for m in imports_of(path) if m in modules and not within(name, {m}))   # not a parent
             for name, path in modules.items()}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_the_entry_points_in_pipelines_are_thin():
    for path in (ROOT / "pipelines").glob("*.py"):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(lines) <= 12, f"{path.name} holds code: the jobs belong in wptk.beam"
