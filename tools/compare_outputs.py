"""Runs the same commands in two checkouts of wptk and compares their output bytes ("same bytes as before").

    python tools/compare_outputs.py --base ../wptk-before --head . [--quick] [--only NAME,...]

Both checkouts must be built in place (`python setup.py build_ext --inplace`). Every command runs as
`python -m ...` with cwd = its checkout and PYTHONPATH = that checkout, so each uses its own code; the script first
checks that (an editable install of another checkout may also exist) and that no .pyx is newer than its build. The
inputs are the same for both: the shared data (../shared/data beside this repository, or $WPTK_SHARED_DATA), texts
made from it in a temporary directory, and each checkout's bundled wptk/data/sample.txt and sample_vocab.txt
(relative paths, so a change to those files shows as a difference too).

Cases (--quick: fewer, see FULL_ONLY, on small inputs: the bundled sample instead of the shared corpora):
  cpd/*       `wptk create-pretraining-data`: default flags, --do_whole_word_mask, --gzip, three output files,
              cased (--do_lower_case=False, cased vocab), --multilingual, .gz and .bz2 inputs, and every
              golden/pretraining/*/ case with its `args` and `vocab` files
  pipeline/*  `python -m pipelines.create_pretraining_data --runner=FnApiRunner`, 1 worker (in_memory) and 2
              (--direct_running_mode=multi_processing --direct_num_workers=2), default and whole-word masking;
              plain and compressed inputs in 1 MiB byte ranges with --gzip; --multilingual --split_sentences
  count/*     `python -m pipelines.word_count` (1 MiB byte ranges), default and --multilingual
  vocab/*     `wptk vocab`, default and --multilingual
  tokenize/*  `wptk tokenize`, tokens and --ids, default (uncased vocab), --no-lower (cased vocab) and
              --multilingual (multilingual vocab), on an English and a multilingual text

Each case's output directories must hold the same files with the same bytes, except the JSON summaries
(`summary.json`, `*-summary.json`), which are compared field by field without the fields that hold times (keys
`seconds` and `*_seconds`), paths (`input_file`, `output_dir`, `vocab_file`, `output`) or host names and process
ids (`host`, `pid`); fields that only the head's summary has are listed, not counted as differences (a new flag).
One line per case (same / DIFFERENT with the first differing file / FAILED with the failing tree's last error
line); the exit status is 1 if any case is not the same.
"""
import argparse
import bz2
import fnmatch
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROG = "compare_outputs.py"
REPO = Path(__file__).resolve().parents[1]
SAMPLE, SAMPLE_VOCAB = "wptk/data/sample.txt", "wptk/data/sample_vocab.txt"
VOCABS = {"uncased": "bert-base-uncased.vocab.txt", "cased": "bert-base-cased.vocab.txt",
          "multi": "bert-base-multilingual-cased.vocab.txt"}
VOLATILE_KEYS = {"seconds", "input_file", "output_dir", "vocab_file", "output", "host", "pid"}
ONE_WORKER = ["--runner=FnApiRunner"]
TWO_WORKERS = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
MODULES = ["wptk", "pipelines.create_pretraining_data", "pipelines.word_count"]
# cases --quick leaves out (fnmatch patterns), to stay near a minute: each worker count and masking, counting,
# learning and tokens or ids once (the golden bible_cased_512 is the cased case)
FULL_ONLY = ["pipeline/1-worker/do_whole_word_mask", "pipeline/2-worker/default",
             "pipeline/2-worker/ranges-compressed-gzip", "pipeline/2-worker/multilingual-split_sentences",
             "count/multilingual", "vocab/default", "cpd/cased", "tokenize/en/*/ids", "tokenize/multi/*/tokens"]


class UsageError(Exception):
    """A problem with the arguments or the checkouts: one line, exit status 2."""


def shared_data():
    """The shared data directory, found as the tests find it."""
    path = Path(os.environ.get("WPTK_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not (path / "golden" / "pretraining").is_dir():
        raise UsageError(f"shared data not found at {path} (set WPTK_SHARED_DATA)")
    return path.resolve()


def make_inputs(shared, inputs, quick):
    """Writes the texts the cases read into `inputs` and returns {name: path}: "en" (English), "multi" (files
    joined with a blank line between them, so each stays a document) and "packed" (two compressed English files,
    comma-separated)."""
    multi, english = shared / "corpus" / "multi", shared / "corpus" / "en"
    if quick:
        parts = [multi / "emacs_tutorial" / f"TUTORIAL.{lang}.txt" for lang in ("ja", "th", "ru")]
        packed = [shared / "golden" / "pretraining" / case / "input.txt" for case in ("austen_wwm", "bible_cased_512")]
    else:
        parts = [p for name in ("emacs_tutorial", "lohelp", "vim_tutor") for p in sorted((multi / name).glob("*.txt"))]
        packed = [english / "bible_kjv.txt", shared / "golden" / "pretraining" / "austen_defaults" / "input.txt"]
    paths = {"en": SAMPLE if quick else str(english / "austen.txt"), "multi": str(inputs / "multi.txt"),
             "packed": f"{inputs / 'packed-a.txt.gz'},{inputs / 'packed-b.txt.bz2'}"}
    with open(paths["multi"], "wb") as out:
        for path in parts:
            out.write(path.read_bytes().rstrip(b"\n") + b"\n\n")
    for path, source, compress in zip(paths["packed"].split(","), packed, (gzip.compress, bz2.compress)):
        Path(path).write_bytes(compress(source.read_bytes()))
    return paths


def pretraining_cases(shared, text, quick):
    """(name, module, args) of `wptk create-pretraining-data`, its golden cases and the pipeline."""
    vocab = lambda name: str(shared / "vocab" / VOCABS[name])     # noqa: E731
    en, en_vocab = (SAMPLE, SAMPLE_VOCAB) if quick else (text["en"], vocab("uncased"))
    cased = SAMPLE if quick else str(shared / "corpus" / "en" / "bible_kjv.txt")
    cpd = ["wptk", "create-pretraining-data", "--quiet"]
    cases = [("cpd/default", cpd + [f"--input_file={en}", f"--vocab_file={en_vocab}",
                                     "--output_file={out}/train.tfrecord"])]
    for flag, output in [("--do_whole_word_mask", "train.tfrecord"), ("--gzip", "train.tfrecord.gz"),
                         (None, "a.tfrecord,{out}/b.tfrecord,{out}/c.tfrecord")]:
        name = "cpd/" + (flag.lstrip("-") if flag else "3-outputs")
        cases.append((name, cpd + [f"--input_file={en}", f"--vocab_file={en_vocab}", "--output_file={out}/" + output]
                      + ([flag] if flag else [])))
    cases += [("cpd/cased", cpd + [f"--input_file={cased}", f"--vocab_file={vocab('cased')}",
                                   "--do_lower_case=False", "--output_file={out}/train.tfrecord"]),
              ("cpd/multilingual", cpd + [f"--input_file={text['multi']}", f"--vocab_file={vocab('multi')}",
                                          "--multilingual", "--output_file={out}/train.tfrecord"]),
              ("cpd/compressed-inputs", cpd + [f"--input_file={text['packed']}", f"--vocab_file={vocab('uncased')}",
                                               "--output_file={out}/train.tfrecord"])]
    for case in sorted(p for p in (shared / "golden" / "pretraining").iterdir() if p.is_dir()):
        flags = shlex.split((case / "args").read_text())
        cases.append((f"cpd/golden/{case.name}", cpd + flags + [
            f"--input_file={case / 'input.txt'}", f"--vocab_file={vocab_file(shared, case)}",
            "--output_file={out}/train.tfrecord"]))
    job = ["pipelines.create_pretraining_data", f"--input_file={en}", f"--vocab_file={en_vocab}",
           "--output_dir={out}", f"--num_buckets={2 if quick else 8}", "--quiet"]
    for workers, runner in [(1, ONE_WORKER), (2, TWO_WORKERS)]:
        cases += [(f"pipeline/{workers}-worker/default", job + runner),
                  (f"pipeline/{workers}-worker/do_whole_word_mask", job + runner + ["--do_whole_word_mask"])]
    mixed = ["pipelines.create_pretraining_data", "--output_dir={out}", "--num_buckets=5", "--quiet"] + TWO_WORKERS
    cases += [("pipeline/2-worker/ranges-compressed-gzip", mixed + [
                  f"--input_file={en},{text['packed']}", f"--vocab_file={vocab('uncased')}", "--input_split_mb=1",
                  "--gzip"]),
              ("pipeline/2-worker/multilingual-split_sentences", mixed + [
                  f"--input_file={text['multi']}", f"--vocab_file={vocab('multi')}", "--multilingual",
                  "--split_sentences", "--dupe_factor=2"])]
    return cases


def vocab_file(shared, case):
    """The vocab a golden case names in its `vocab` file."""
    return shared / "vocab" / (case / "vocab").read_text().strip()


def text_cases(shared, text, quick):
    """(name, module, args) of the word count, `wptk vocab` and `wptk tokenize`."""
    cases = []
    for lang, extra, size in [("en", [], 2000 if quick else 8000), ("multi", ["--multilingual"], 3000 if quick else 12000)]:
        name = "default" if lang == "en" else "multilingual"
        cases += [(f"count/{name}", ["pipelines.word_count", f"--input_file={text[lang]}", "--output={out}/counts",
                                     "--input_split_mb=1", "--runner=FnApiRunner"] + extra),
                  (f"vocab/{name}", ["wptk", "vocab", f"--input_file={text[lang]}", "--output={out}/vocab.txt",
                                     f"--vocab_size={size}", "--runner=FnApiRunner", "--quiet"] + extra)]
    for mode, flags, vocab in [("default", [], "uncased"), ("no-lower", ["--no-lower"], "cased"),
                               ("multilingual", ["--multilingual"], "multi")]:
        for lang in ("en", "multi"):
            for what, ids in [("tokens", []), ("ids", ["--ids"])]:
                cases.append((f"tokenize/{lang}/{mode}/{what}", [
                    "wptk", "tokenize", f"--vocab={shared / 'vocab' / VOCABS[vocab]}", text[lang],
                    "--output={out}/tokens.txt"] + flags + ids))
    return cases


def tree_env(tree):
    """The environment of a command run in `tree`: its own code first, also in Beam's worker processes; no
    __pycache__ written into the checkouts (the base is often one that must stay untouched)."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


def check_tree(tree, label):
    """Checks that `tree` is a built checkout whose commands import its own code; returns where wptk comes from."""
    if not (tree / "wptk" / "__init__.py").is_file():
        raise UsageError(f"--{label} {tree}: not a wptk checkout (no wptk/__init__.py)")
    for source in sorted((tree / "wptk").rglob("*.pyx")):
        built = list(source.parent.glob(source.stem + ".*.so"))
        if not built or min(p.stat().st_mtime for p in built) < source.stat().st_mtime:
            raise UsageError(f"--{label} {tree}: {source.relative_to(tree)} is not built or newer than its build; "
                             "run python setup.py build_ext --inplace there")
    probe = ("import importlib.util, sys, wptk\n"
             "print(wptk.__file__)\n"
             "for m in sys.argv[1:]: print(importlib.util.find_spec(m).origin)\n")
    proc = subprocess.run([sys.executable, "-c", probe, *MODULES[1:]], cwd=tree, env=tree_env(tree),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError(f"--{label} {tree}: cannot import its wptk: {last_line(proc.stderr)}")
    origins = proc.stdout.splitlines()
    for module, origin in zip(MODULES, origins):
        if not Path(origin).resolve().is_relative_to(tree):
            raise UsageError(f"--{label} {tree}: {module} is imported from {origin}, not from this checkout")
    return origins[0]


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def start(tree, out, module_args):
    """Starts one case's command in `tree`, writing into `out`."""
    out.mkdir(parents=True)
    argv = [sys.executable, "-m", *[a.replace("{out}", str(out)) for a in module_args]]
    return subprocess.Popen(argv, cwd=tree, env=tree_env(tree), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def stable_fields(value):
    """A summary's JSON value without the fields that hold times, paths, host names or process ids."""
    if isinstance(value, dict):
        return {k: stable_fields(v) for k, v in value.items()
                if k not in VOLATILE_KEYS and not k.endswith("_seconds")}
    return [stable_fields(v) for v in value] if isinstance(value, list) else value


def json_difference(base, head, where=""):
    """(first field that differs or is missing in head, fields only head has) of two JSON values."""
    if not (isinstance(base, dict) and isinstance(head, dict)):
        return (None if base == head else where.rstrip(".") or "(top level)"), []
    extra = [f"{where}{k}" for k in head if k not in base]
    for key, value in base.items():
        if key not in head:
            return f"{where}{key} (missing in head)", extra
        differs, more = json_difference(value, head[key], f"{where}{key}.")
        extra += more
        if differs:
            return differs, extra
    return None, extra


def compare_dirs(base, head):
    """(first difference or None, notes) between two output directories."""
    names, head_names = files_under(base), files_under(head)
    if names != head_names:
        only = sorted(set(names) ^ set(head_names))[0]
        return f"{only} only in {'base' if only in names else 'head'}", ""
    notes = []
    for name in names:
        if name == "summary.json" or name.endswith("-summary.json"):
            load = lambda root: stable_fields(json.loads((root / name).read_text()))     # noqa: E731
            differs, extra = json_difference(load(base), load(head))
            if differs:
                return f"{name}: field {differs}", ""
            notes += [f"{name}: head adds {', '.join(extra)}"] if extra else []
        elif (base / name).read_bytes() != (head / name).read_bytes():
            return name, ""
    return None, "; ".join(notes)


def run_case(trees, work, name, module_args):
    """Runs one case in both trees at once and returns its report line and whether it is the same."""
    began = time.perf_counter()
    outs = {label: work / label / name.replace("/", "_") for label in trees}
    procs = {label: start(tree, outs[label], module_args) for label, tree in trees.items()}
    errors = {label: proc.communicate()[1] for label, proc in procs.items()}
    seconds = f"({time.perf_counter() - began:.1f} s)"
    failed = [label for label, proc in procs.items() if proc.returncode != 0]
    if failed:
        label = failed[0]
        line = f"FAILED     {name} {seconds}: {label} exited {procs[label].returncode}: {last_line(errors[label])}"
        return line, False
    differs, notes = compare_dirs(outs["base"], outs["head"])
    for out in outs.values():
        shutil.rmtree(out)
    if differs:
        return f"DIFFERENT  {name} {seconds}: {differs}", False
    return f"same       {name} {seconds}" + (f" [{notes}]" if notes else ""), True


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description="Runs the same wptk commands in two built checkouts on "
                                     "the same inputs and compares the output bytes (see the module docstring).")
    parser.add_argument("--base", required=True, type=Path, help="the checkout before the change")
    parser.add_argument("--head", default=REPO, type=Path, help="the checkout after it (default: this one)")
    parser.add_argument("--quick", action="store_true", help="fewer cases on small inputs (about a minute)")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated parts of case names: run only the cases "
                        "whose name contains one of them (e.g. cpd/golden,tokenize/multi)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    trees = {"base": args.base.resolve(), "head": args.head.resolve()}
    for label, tree in trees.items():
        print(f"{label}: {tree} (wptk from {check_tree(tree, label)})", flush=True)
    shared = shared_data()
    began, same = time.perf_counter(), 0
    with tempfile.TemporaryDirectory(prefix="wptk-compare-") as work:
        work = Path(work)
        (work / "inputs").mkdir()
        text = make_inputs(shared, work / "inputs", args.quick)
        cases = pretraining_cases(shared, text, args.quick) + text_cases(shared, text, args.quick)
        if args.quick:
            cases = [c for c in cases if not any(fnmatch.fnmatchcase(c[0], p) for p in FULL_ONLY)]
        if args.only:
            cases = [c for c in cases if any(part in c[0] for part in args.only.split(","))]
            if not cases:
                raise UsageError(f"--only {args.only}: no case name contains it")
        for name, module_args in cases:
            line, ok = run_case(trees, work, name, module_args)
            same += ok
            print(line, flush=True)
    print(f"{same} of {len(cases)} cases same in {time.perf_counter() - began:.0f} s"
          f"{'' if same == len(cases) else f'; {len(cases) - same} not'}")
    return 0 if same == len(cases) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
