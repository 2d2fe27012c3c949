"""Helpers shared by the tests of the Beam pipeline (tests/test_beam_*.py): a corpus, the job run in this process or
as a command, and the documented bucket hash and seeds computed independently of wptk.buckets.

It sits with the jobs (it runs one), so wptk.testing, a library module, stays free of Beam.
"""
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

from wptk.beam import create_pretraining_data as cpd
from wptk.testing import REPO_ROOT, limit_file_size

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
FLAGS = ["--dupe_factor=2", "--max_seq_length=64", "--max_predictions_per_seq=10", "--random_seed=7", "--quiet"]
BUCKETS = 4


def make_documents(n=64, seed=0):
    """Documents (lists of lines) from the sample's sentences, with some CRLF lines and non-ASCII text."""
    sentences = [s for s in SAMPLE.read_text(encoding="utf-8").split("\n") if s.strip()]
    rnd = random.Random(seed)
    docs = []
    for d in range(n):
        start = rnd.randrange(len(sentences))
        lines = sentences[start:start + rnd.randint(1, 25)]
        if d % 9 == 3:
            lines = [line + "\r" for line in lines]
        if d % 11 == 5:
            lines.append(f"Caf\u00e9 na\u00efve \u2014 \u65e5\u672c\u8a9e {d}\u3002")
        docs.append(lines)
    return docs


def corpus_text(docs, separator="\n\n"):
    """The text of `docs`, `separator` between them and a newline at the end."""
    return separator.join("\n".join(lines) for lines in docs) + "\n"


def run(tmp_path, inputs, out="out", *extra):
    """Runs the pipeline in this process (FnApiRunner unless `extra` names a runner); returns (summary, dir)."""
    output_dir = tmp_path / out
    summary = cpd.run([f"--input_file={inputs}", f"--output_dir={output_dir}", f"--vocab_file={VOCAB}",
                       f"--num_buckets={BUCKETS}", *FLAGS, *extra])
    return summary, output_dir


def outputs(directory):
    """File name -> bytes of the train-* files in `directory`."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).glob("train-*"))}


def pipeline_cli(*args, cwd=None, max_file_bytes=None):
    """(status, stdout, stderr) of the pipeline's command; `max_file_bytes` as for wptk.testing.run_wptk."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data", *map(str, args)],
                          capture_output=True, cwd=cwd or REPO_ROOT, env=env, timeout=300,
                          preexec_fn=None if max_file_bytes is None else lambda: limit_file_size(max_file_bytes))
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def digest_of(seed, lines):
    """The documented document digest, computed here independently of the pipeline module."""
    return hashlib.blake2b(b"%d\n" % seed + "\n".join(lines).encode("utf-8"), digest_size=16).digest()


def documented_bucket_seed(seed, bucket):
    """The documented seed of bucket `bucket`, computed here independently of the pipeline module."""
    return int.from_bytes(hashlib.blake2b(b"wptk-bucket-seed:%d:%d" % (seed, bucket), digest_size=8).digest(),
                          "big") >> 1
