"""Learning a WordPiece vocabulary: `wptk vocab` against bert-base-uncased and HF tokenizers' WordPieceTrainer.

    python benchmarks/bench_vocab.py [--scale 4] [--skip-multilingual] [--skip-scaling]

English. The three corpora of ../shared/data/corpus/en (or $WPTK_SHARED_DATA) are split into documents (runs of
lines up to a blank line), numbered across the files in sorted order; every 20th document (number % 20 == 19)
is held out, the rest is the training text. `wptk vocab` and HF's WordPieceTrainer (BertNormalizer(lowercase) +
BertPreTokenizer: BERT's uncased pre-tokenization) each learn 30,522 tokens from the same training files, with
the same 104 special tokens ([PAD], [unused0..98], [UNK], [CLS], [SEP], [MASK]). Every vocabulary, and
bert-base-uncased's, is then used by the same tokenizer (wptk.FullTokenizer, uncased), and tokens per word is
counted on the held-out text: WordPiece tokens / BasicTokenizer words.

Multilingual. `wptk vocab --multilingual` learns 119,547 tokens (bert-base-multilingual-cased's size) from
../shared/data/corpus/multi (tutorials, Thai, Mongolian, Korean, Chinese poetry, LibreOffice help) plus the UDHR
samples except every 5th row (row % 5 == 4), which is held out; once as is, once with --complete_alphabets=4
(the unseen letters of the 128-code-point ranges the corpus uses). On the held-out samples whose script (the
code after "_") occurs in a training sample, the share of characters inside [UNK] tokens (the spans of [UNK]
tokens / the spans of all tokens) is measured with wptk.FullTokenizer(multilingual=True), and for
bert-base-multilingual-cased both with the reference's cased tokenizer and with the multilingual mode.

Speed. Both learners run as separate processes pinned to one core (os.sched_setaffinity, inherited by their
threads; HF with RAYON_NUM_THREADS=1), timed from start to exit, on the English training text; wptk's summary
splits its time into counting (Beam, FnApiRunner in-process) and learning. Then the Beam counting alone
(`python -m pipelines.word_count`) runs on --scale copies of the training text with DirectRunner multi_processing
on 1 and on 2 worker processes (all cores allowed): job wall time and the counting stage's span (first range
started to last range ended, from Beam metrics). "others" is the CPU that other processes used meanwhile, in
cores: on a shared machine it shows which numbers a neighbour skewed.

The exit status is 1 when a vocabulary file does not have exactly the asked size or BERT's first ids; the goals
only print.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import REPO_ROOT, OtherCpu, cpu_model
from wptk.testing import shared_data

EN_SIZE = 30522
MULTI_SIZE = 119547
COMPLETE_ALPHABETS = 4
HELD_OUT_EVERY = 20
UDHR_HELD_OUT_EVERY = 5
SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SCRIPTS_SHOWN = ["Latn", "Cyrl", "Arab", "Deva", "Beng", "Hans", "Hant", "Ethi", "Hebr", "Mymr", "Mong", "Tibt"]

HF_SCRIPT = r"""
import json, sys, time
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
files, out, size, specials, lower = json.loads(sys.argv[1])
tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lower)
tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
trainer = trainers.WordPieceTrainer(vocab_size=size, special_tokens=specials, show_progress=False)
start = time.perf_counter()
tokenizer.train(files, trainer)
seconds = time.perf_counter() - start
vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
with open(out, "w", encoding="utf-8") as f:
    f.write("".join(token + "\n" for token, _ in vocab))
print(json.dumps({"train_seconds": seconds}))
"""


# ---------------------------------------------------------------------------------------------- machine


def allowed_cpus():
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def run_timed(cmd, cpus=None, env=None):
    """(wall seconds, stdout, stderr, others' cores) of a subprocess, pinned to `cpus` when given."""
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus and hasattr(os, "sched_setaffinity") else None
    with OtherCpu() as others:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, env=env, preexec_fn=pin)
        seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr.decode(errors='replace')[-3000:]}")
    return seconds, proc.stdout.decode(), proc.stderr.decode(), others.cores


def others_note(cores):
    return "" if cores is None else f"others {cores:.2f} cores"


# ---------------------------------------------------------------------------------------------- data


def split_english(root, work):
    """Training files (one per corpus, documents separated by blank lines) and held-out lines."""
    train_dir = work / "en_train"
    train_dir.mkdir()
    held, number, files = [], 0, []
    for path in sorted((root / "corpus" / "en").glob("*.txt")):
        docs, current = [], []
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                current.append(line)
            elif current:
                docs.append(current)
                current = []
        if current:
            docs.append(current)
        kept = []
        for doc in docs:
            (held if number % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else kept).append(doc)
            number += 1
        out = train_dir / path.name
        out.write_text("\n\n".join("\n".join(d) for d in kept) + "\n", encoding="utf-8")
        files.append(out)
    return files, [line for doc in held for line in doc], number


def udhr_rows(root):
    rows = []
    for line in (root / "corpus" / "multi" / "udhr_samples.tsv").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            code, name, text = line.split("\t", 2)
            rows.append((code, name, text))
    return rows


def split_multilingual(root, work):
    """Training files (the multilingual corpora + the UDHR training rows) and the held-out UDHR rows."""
    multi = root / "corpus" / "multi"
    files = sorted(p for p in multi.rglob("*") if p.is_file() and p.suffix in (".txt", ".tsv")
                   and p.name != "udhr_samples.tsv")
    rows = udhr_rows(root)
    train = [r for i, r in enumerate(rows) if i % UDHR_HELD_OUT_EVERY != UDHR_HELD_OUT_EVERY - 1]
    held = [r for i, r in enumerate(rows) if i % UDHR_HELD_OUT_EVERY == UDHR_HELD_OUT_EVERY - 1]
    udhr_train = work / "udhr_train.txt"
    udhr_train.write_text("".join(text + "\n" for _, _, text in train), encoding="utf-8")
    return files + [udhr_train], train, held


def check_vocab(path, size):
    tokens = path.read_text(encoding="utf-8").split("\n")[:-1]
    problems = []
    if len(tokens) != size:
        problems.append(f"{path.name}: {len(tokens)} lines, not {size}")
    if tokens[:104] != SPECIALS:
        problems.append(f"{path.name}: the first 104 tokens are not BERT's")
    return problems


# ---------------------------------------------------------------------------------------------- measures


def tokens_per_word(vocab, lines, lower=True, multilingual=False):
    import wptk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = wptk.FullTokenizer(str(vocab), do_lower_case=lower, multilingual=multilingual)
    basic = wptk.BasicTokenizer(do_lower_case=lower, multilingual=multilingual)
    words = sum(len(basic.tokenize(line)) for line in lines)
    ids, _ = tokenizer.encode_batch(lines)
    unk = tokenizer.vocab.get("[UNK]", -1)
    return len(ids) / max(1, words), int((ids == unk).sum()), words


def unk_share(vocab, texts, multilingual):
    """(characters inside [UNK] tokens, characters inside all tokens) over `texts`."""
    import wptk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = wptk.FullTokenizer(str(vocab), do_lower_case=False, multilingual=multilingual)
    unk = tokenizer.vocab["[UNK]"]
    ids, _, offsets = tokenizer.encode_batch(texts, offsets=True)
    spans = offsets[:, 1] - offsets[:, 0]
    return int(spans[ids == unk].sum()), int(spans.sum())


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def parse_wptk_summary(text):
    counted = re.search(r"counted in ([\d.]+) s", text)
    learned = re.search(r"learned in ([\d.]+) s", text)
    return (float(counted.group(1)) if counted else None), (float(learned.group(1)) if learned else None)


# ---------------------------------------------------------------------------------------------- sections


def english(root, work, cpu, args):
    files, held, n_docs = split_english(root, work)
    size = sum(f.stat().st_size for f in files)
    print(f"\n== English: {n_docs:,} documents, every {HELD_OUT_EVERY}th held out ({len(held):,} lines); training "
          f"text {size / 1e6:.1f} MB in {len(files)} files; vocab_size {EN_SIZE:,}")
    ours = work / "wptk_en.txt"
    glob = ",".join(str(f) for f in files)
    wall, _, err, others = run_timed([sys.executable, "-m", "wptk", "vocab", f"--input_file={glob}",
                                      f"--output={ours}", f"--vocab_size={EN_SIZE}"], cpus={cpu})
    counted, learned = parse_wptk_summary(err)
    print("wptk vocab summary:\n  " + "\n  ".join(err.strip().splitlines()))
    hf_vocab = work / "hf_en.txt"
    hf_wall = hf_train = hf_others = None
    try:
        import tokenizers  # noqa: F401
        env = dict(os.environ, RAYON_NUM_THREADS="1", RAYON_RS_NUM_CPUS="1", TOKENIZERS_PARALLELISM="false")
        spec = json.dumps([[str(f) for f in files], str(hf_vocab), EN_SIZE, SPECIALS, True])
        hf_wall, out, _, hf_others = run_timed([sys.executable, "-c", HF_SCRIPT, spec], cpus={cpu}, env=env)
        hf_train = json.loads(out.strip().splitlines()[-1])["train_seconds"]
    except ImportError:
        print("HF tokenizers: skipped (pip install tokenizers)")

    bert = root / "vocab" / "bert-base-uncased.vocab.txt"
    rows = [("wptk vocab", ours), ("bert-base-uncased", bert)]
    if hf_wall:
        rows.append(("HF WordPieceTrainer", hf_vocab))
    print("\ntokens per word on the held-out text (wptk.FullTokenizer, uncased, for every vocabulary):")
    result = {}
    for label, path in rows:
        tpw, unks, words = tokens_per_word(path, held)
        result[label] = tpw
        print(f"  {label:22s} {tpw:.4f}   ({unks:,} [UNK] in {words:,} words)")
    ratio_bert = result["wptk vocab"] / result["bert-base-uncased"]
    print(f"  goal: wptk within 3% of bert-base-uncased: wptk/bert = {ratio_bert:.4f} "
          f"({100 * (ratio_bert - 1):+.2f}%) -> {'met' if ratio_bert <= 1.03 else 'NOT met'}")
    if hf_wall:
        ratio_hf = result["wptk vocab"] / result["HF WordPieceTrainer"]
        print(f"  goal: wptk <= HF WordPieceTrainer: wptk/HF = {ratio_hf:.4f} ({100 * (ratio_hf - 1):+.2f}%) -> "
              f"{'met' if ratio_hf <= 1.0 else 'NOT met'}")

    print(f"\nspeed on one core (cpu {cpu}), whole process from start to exit, same {size / 1e6:.1f} MB of text:")
    print(f"  wptk vocab               {wall:6.2f} s   (Beam counting {counted} s, learning {learned} s; "
          f"{others_note(others)})")
    if hf_wall:
        print(f"  HF WordPieceTrainer      {hf_wall:6.2f} s   (train() {hf_train:.2f} s; {others_note(hf_others)})")
        print(f"  goal: wptk at least as fast as HF: HF/wptk = {hf_wall / wall:.2f}x -> "
              f"{'met' if wall <= hf_wall else 'NOT met'}")
    problems = check_vocab(ours, EN_SIZE)
    return files, problems


def multilingual(root, work, cpu):
    import wptk
    files, train, held = split_multilingual(root, work)
    train_scripts = {code.split("_")[-1] for code, _, _ in train}
    shown = [r for r in held if r[0].split("_")[-1] in train_scripts]
    unseen = [r for r in held if r[0].split("_")[-1] not in train_scripts]
    size = sum(f.stat().st_size for f in files)
    print(f"\n== Multilingual: {len(files)} training files, {size / 1e6:.1f} MB ({len(train)} UDHR samples); held out: "
          f"{len(held)} UDHR samples, {len(shown)} of scripts present in training; vocab_size {MULTI_SIZE:,} "
          "(bert-base-multilingual-cased's)")
    try:
        wptk.BasicTokenizer(do_lower_case=False, multilingual=True)
        mode = ["--multilingual"]
    except TypeError:
        mode = ["--no-lower"]
        print("  (wptk.BasicTokenizer has no multilingual mode here: learning in cased mode)")
    multi_mode = mode == ["--multilingual"]
    columns, problems = [], []
    for label, extra in [("wptk", ["--complete_alphabets=0"]),
                         ("wptk+alphabets", [f"--complete_alphabets={COMPLETE_ALPHABETS}"])]:
        ours = work / f"wptk_multi{len(extra)}.txt"
        cmd = ["wptk", "vocab", f"--input_file={','.join(map(str, files))}", f"--output={ours}",
               f"--vocab_size={MULTI_SIZE}", *mode, *extra]
        wall, _, err, others = run_timed([sys.executable, "-m", *cmd], cpus={cpu})
        shown_cmd = ["wptk vocab", f"--input_file=<{len(files)} files>", "--output=..."] + cmd[4:]
        print(f"{label}: {' '.join(shown_cmd)}")
        print("  " + "\n  ".join(err.strip().splitlines()[1:-1]) + f"\n  {wall:.1f} s on one core, "
              f"{others_note(others)}")
        columns.append((label, ours, multi_mode))
        problems += check_vocab(ours, MULTI_SIZE)
    mbert = root / "vocab" / "bert-base-multilingual-cased.vocab.txt"
    columns += [("mBERT cased", mbert, False), ("mBERT multiling.", mbert, True)]
    by_script = {}
    for code, _, text in shown:
        by_script.setdefault(code.split("_")[-1], []).append(text)
    print("\nshare of characters inside [UNK] tokens on the held-out UDHR samples (column: vocab, tokenizer mode):")
    print(f"  {'script':8s} {'samples':>7s} " + " ".join(f"{label:>16s}" for label, _, _ in columns))
    totals = {}
    for script in ["all"] + [s for s in SCRIPTS_SHOWN if s in by_script]:
        texts = [t for _, _, t in shown] if script == "all" else by_script[script]
        cells = []
        for label, vocab, mode_flag in columns:
            u, n = unk_share(vocab, texts, mode_flag)
            cells.append(f"{pct(u, n):15.2f}%")
            if script == "all":
                totals[label] = pct(u, n)
        print(f"  {script:8s} {len(texts):7d} " + " ".join(cells))
    if unseen:
        cells = [f"{pct(*unk_share(vocab, [t for _, _, t in unseen], m)):15.2f}%" for _, vocab, m in columns]
        print(f"  {'unseen':8s} {len(unseen):7d} " + " ".join(cells) + "   <- scripts absent from training")
    for label in ("wptk", "wptk+alphabets"):
        print(f"  goal: < 1% on scripts present in training, {label}: {totals[label]:.2f}% -> "
              f"{'met' if totals[label] < 1 else 'NOT met'} (mBERT cased: {totals['mBERT cased']:.1f}%)")
    texts = [t for _, _, t in shown]
    cells = [f"{label} {tokens_per_word(v, texts, lower=False, multilingual=m)[0]:.3f}" for label, v, m in columns]
    print(f"  tokens per word on the same samples (an [UNK] word is one token): {', '.join(cells)}")
    return problems


def scaling(files, work, scale):
    """Beam counting alone on `scale` copies of the training files: 1 vs 2 local worker processes."""
    big = work / "scaled"
    big.mkdir()
    for k in range(scale):
        for f in files:
            os.symlink(f, big / f"{k}-{f.name}")
    size = scale * sum(f.stat().st_size for f in files)
    print(f"\n== Beam counting (python -m pipelines.word_count) on {scale} copies of the English training text, "
          f"{size / 1e6:.0f} MB, all cores allowed ({len(allowed_cpus())}):")
    print(f"  {'runner':44s} {'job wall':>9s} {'counting':>9s}  {'MB/s':>6s}")
    base = None
    for label, flags in [("FnApiRunner in_memory (this process)", []),
                         ("DirectRunner multi_processing, 1 worker", ["--runner=DirectRunner",
                          "--direct_running_mode=multi_processing", "--direct_num_workers=1"]),
                         ("DirectRunner multi_processing, 2 workers", ["--runner=DirectRunner",
                          "--direct_running_mode=multi_processing", "--direct_num_workers=2"])]:
        prefix = work / f"counts-{len(flags)}-{label.split()[-2]}"
        wall, _, _, others = run_timed([sys.executable, "-m", "pipelines.word_count", f"--input_file={big}/*",
                                        f"--output={prefix}", "--input_split_mb=8",
                                        "--default_sdk_harness_log_level=ERROR", *flags])
        summary = json.loads(Path(f"{prefix}-summary.json").read_text())
        stage = summary["counts"].get("count_stage_seconds") if summary["counts"] else None
        if "worker" in label and base is None:
            base = (wall, stage)
        print(f"  {label:44s} {wall:8.2f}s {stage:8.2f}s  {size / 1e6 / stage:6.1f}   {others_note(others)}")
        if "2 workers" in label and base:
            print(f"  2 workers vs 1: job {base[0] / wall:.2f}x faster, counting stage {base[1] / stage:.2f}x faster")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=4, help="copies of the English text for the scaling rows")
    parser.add_argument("--skip-multilingual", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    root = shared_data()
    if root is None:
        sys.exit("../shared/data not found (set WPTK_SHARED_DATA)")
    cpus = allowed_cpus()
    import wptk
    print(f"wptk {wptk.__version__}; Python {platform.python_version()}; {cpu_model()}; cores allowed: {len(cpus)}")
    work = Path(tempfile.mkdtemp(prefix="bench_vocab-"))
    try:
        files, problems = english(root, work, cpus[0], args)
        if not args.skip_multilingual:
            problems += multilingual(root, work, cpus[0])
        if not args.skip_scaling:
            scaling(files, work, args.scale)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print("ERROR:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
