"""--plan predicts a run from a sample of its input, writes nothing, and is close to what the run then does."""
import json
import os
import random
import subprocess
import sys

import pytest

from wptk.testing import REPO_ROOT

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
FLAGS = ["--dupe_factor=3", "--max_seq_length=128", "--random_seed=5"]

# The command's own peak: VmHWM belongs to the process image, where ru_maxrss would keep the peak of the test
# process that forked it (Linux carries it across exec).
PEAK_OF_CHILD = ("import runpy, sys; sys.argv = ['wptk'] + sys.argv[1:]\n"
                 "try:\n    runpy.run_module('wptk', run_name='__main__')\n"
                 "except SystemExit as e:\n    code = e.code\n"
                 "print([int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0],"
                 " file=sys.stderr)\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 6 MB of documents of 1 to 40 sentences (more than --plan reads whole)."""
    sentences = [s for s in SAMPLE.read_text(encoding="utf-8").split("\n") if s.strip()]
    rnd = random.Random(11)
    parts, size = [], 0
    while size < 6_000_000:
        doc = "\n".join(rnd.choice(sentences) for _ in range(rnd.randint(1, 40)))
        parts.append(doc)
        size += len(doc) + 2
    path = tmp_path_factory.mktemp("plan") / "corpus.txt"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def test_plan_writes_nothing_and_predicts_the_run(corpus, tmp_path):
    before = sorted(os.listdir(corpus.parent))
    proc = subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={corpus}",
                           f"--vocab_file={VOCAB}", *FLAGS, "--plan", "--json"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert {"documents", "instances", "output_bytes", "output_bytes_gzip", "peak_rss_bytes",
            "seconds_one_core"} <= set(plan)
    assert plan["sampled_bytes"] < 0.5 * plan["input_bytes"]          # it did sample
    assert sorted(os.listdir(corpus.parent)) == before and os.listdir(tmp_path) == []
    out = tmp_path / "out.tfrecord"
    proc = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, "create-pretraining-data", f"--input_file={corpus}",
                           f"--vocab_file={VOCAB}", *FLAGS, f"--output_file={out}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak = int(proc.stderr.strip().splitlines()[-1])
    instances = int(proc.stderr.split(" instances (")[0].rsplit("-> ", 1)[1].replace(",", ""))
    assert plan["instances"] == pytest.approx(instances, rel=0.10)
    assert plan["output_bytes"] == pytest.approx(out.stat().st_size, rel=0.10)
    assert plan["peak_rss_bytes"] == pytest.approx(peak, rel=0.25)
    gz = tmp_path / "out.tfrecord.gz"
    subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={corpus}",
                    f"--vocab_file={VOCAB}", *FLAGS, f"--output_file={gz}", "--gzip", "--quiet"], check=True)
    assert plan["output_bytes_gzip"] == pytest.approx(gz.stat().st_size, rel=0.10)


def test_plan_text_and_flags(corpus, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data", f"--input_file={corpus}",
                           f"--vocab_file={VOCAB}", *FLAGS, "--plan", "--num_buckets=8", "--plan_worker_memory_mb=400",
                           "--plan_batch_size=32", "--runner=DirectRunner"], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "nothing written" in proc.stdout and "a pipeline worker" in proc.stdout
    assert "keeps a worker under 400 MB" in proc.stdout and "at batch size 32" in proc.stdout
    assert os.listdir(tmp_path) == []
    proc = subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={corpus}",
                           f"--vocab_file={VOCAB}", f"--output_file={tmp_path / 'o.tfrecord'}", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--json prints the plan" in proc.stderr
