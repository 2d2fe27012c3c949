"""`wptk demo`: the main job, the Beam pipeline, on the bundled sample text, with no download."""
import json
import os
import time

from wptk.errors import WptkError

HELP = "run the pretraining-data pipeline on the bundled sample text"
DESCRIPTION = """\
Runs the pretraining-data pipeline (python -m pipelines.create_pretraining_data) on the bundled sample text
(chapters of Pride and Prejudice) with the bundled sample vocabulary, on Apache Beam's local FnApiRunner, and
prints a summary and where the TFRecords are. Nothing is downloaded.

The output directory gets train-KKKKK-of-NNNNN.tfrecord files and summary.json; those of an earlier demo there are
replaced, a directory holding another run's output is refused. Without Apache Beam installed
(pip install -e ".[beam]"), the single-process job (wptk create-pretraining-data) runs instead.
"""
DEFAULT_OUTPUT = "wptk-demo-output"


def sample_path(name):
    return os.path.join(os.path.dirname(__file__), "data", name)


def add_arguments(p):
    p.add_argument("--output_dir", default=DEFAULT_OUTPUT,
                   help=f"where the TFRecords go (default ./{DEFAULT_OUTPUT})")
    p.add_argument("--num_buckets", type=int, default=3,
                   help="buckets = output files (default 3: the sample's 12 documents fill each)")
    p.add_argument("--lines", type=int, default=1, help="how many tokenized sample lines to show (default 1)")


def _pipeline_module():
    """wptk.beam.create_pretraining_data, or None without Apache Beam."""
    import importlib.util

    if importlib.util.find_spec("apache_beam") is None:
        return None
    from wptk.beam import create_pretraining_data
    return create_pretraining_data


def _show_tokenizer(tokenizer, text_path, count):
    with open(text_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = time.perf_counter()
    ids, _ = tokenizer.encode_batch(lines)
    ms = (time.perf_counter() - start) * 1e3
    for line in [t for t in lines if t.strip()][:max(count, 0)]:
        pieces = tokenizer.tokenize(line)
        more = " ..." if len(pieces) > 12 else ""
        print(f"  tokenizer: {line[:50]!r} -> {' '.join(pieces[:12])}{more}")
    print(f"  the sample is {len(ids):,} WordPiece tokens ({len(lines):,} lines, tokenized in {ms:.1f} ms)")


def _demo_owns(output_dir, text):
    """True when output_dir holds no earlier output, or only a previous demo's (so it may be replaced)."""
    summary = os.path.join(output_dir, "summary.json")
    names = os.listdir(output_dir) if os.path.isdir(output_dir) else []
    if not any(n.startswith(("train-", ".train-")) or n == "summary.json" for n in names):
        return True
    try:
        with open(summary, encoding="utf-8") as f:
            flags = json.load(f).get("flags", {})
    except (OSError, ValueError, AttributeError):
        return False
    return os.path.abspath(flags.get("input_file", "")) == os.path.abspath(text)


def run(args):
    from wptk.tokenization import FullTokenizer

    text, vocab = sample_path("sample.txt"), sample_path("sample_vocab.txt")
    tokenizer = FullTokenizer(vocab, do_lower_case=True)
    size = os.path.getsize(text)
    print(f"wptk demo: BERT pretraining data from the bundled sample ({size / 1e3:.0f} KB of Pride and Prejudice), "
          f"vocab of {len(tokenizer.vocab):,} WordPieces")
    _show_tokenizer(tokenizer, text, args.lines)
    output_dir = args.output_dir
    pipeline = _pipeline_module()
    if pipeline is None:
        return _run_without_beam(text, vocab, tokenizer, output_dir)
    if not _demo_owns(output_dir, text):
        raise WptkError(f"--output_dir {output_dir} holds the output of another run; choose another directory")
    from wptk.beam.workers import skip_ipython_probe
    skip_ipython_probe()
    summary = pipeline.run([f"--input_file={text}", f"--vocab_file={vocab}", f"--output_dir={output_dir}",
                            f"--num_buckets={args.num_buckets}", "--overwrite", "--quiet"])
    c = summary["counts"]
    print(f"  Beam pipeline on {summary['runner']}: {c['documents']:,} documents, {c['sentences']:,} sentences, "
          f"{c['tokens']:,} tokens -> {c['instances']:,} instances ({c['masked_tokens']:,} masked tokens, "
          f"{c['random_next']:,} random next) in {summary['seconds']:.1f} s")
    files = summary["output_files"]
    print(f"  TFRecords: {os.path.join(output_dir, files[0])} .. {files[-1]} ({len(files)} buckets), "
          f"counts and flags in {os.path.join(output_dir, 'summary.json')}")
    print(f"  look at them: wptk inspect {output_dir} --vocab {vocab}; read them with tf.data.TFRecordDataset(files) "
          "and run_pretraining.py's feature spec")
    from wptk.program import beam_job_command
    print(f"next: {beam_job_command('create_pretraining_data')} --help   (your corpus, on any Beam runner)")
    return 0


def _run_without_beam(text, vocab, tokenizer, output_dir):
    from wptk.pretraining import PretrainingConfig, create_pretraining_data

    os.makedirs(output_dir, exist_ok=True)
    output = os.path.join(output_dir, "sample.tfrecord")
    summary = create_pretraining_data([text], [output], tokenizer, PretrainingConfig(), show_progress=False)
    print(f"  Apache Beam is not installed (pip install -e \".[beam]\" for the pipeline); single-process job: "
          f"{summary.documents:,} documents -> {summary.instances:,} instances in {summary.seconds:.2f} s")
    print(f"  TFRecords: {output}")
    print("next: wptk create-pretraining-data --help")
    return 0
