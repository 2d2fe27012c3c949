"""examples/pretrain_bert_tiny.py trains: a few steps on the bundled sample lower the masked-LM loss."""
import json
import os
import subprocess
import sys

import pytest

from wptk.testing import REPO_ROOT

pytest.importorskip("tensorflow")
pytest.importorskip("keras_hub")
pytest.importorskip("matplotlib")

VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"


def test_a_few_steps_lower_the_loss(tmp_path):
    records = []
    for name, seed in (("train", 1), ("held_out", 2)):
        records.append(tmp_path / f"{name}.tfrecord")
        subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data",
                        f"--input_file={REPO_ROOT / 'wptk' / 'data' / 'sample.txt'}", f"--output_file={records[-1]}",
                        f"--vocab_file={VOCAB}", "--max_seq_length=64", "--max_predictions_per_seq=10",
                        "--dupe_factor=1", f"--random_seed={seed}", "--quiet"], check=True, cwd=REPO_ROOT)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    run = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "pretrain_bert_tiny.py"),
                          "--train", str(records[0]), "--eval", str(records[1]), "--vocab", str(VOCAB),
                          "--steps=24", "--evals=2", "--batch_size=16", "--learning_rate=3e-3",
                          f"--output_dir={out}"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 24
    start, end = metrics["held_out_start"]["mlm_loss"], metrics["held_out_end"]["mlm_loss"]
    assert end < start - 0.5, (start, end)
    train_loss = metrics["curve"]["train_loss"]
    assert train_loss[-1] < train_loss[1]
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "held-out masked-LM accuracy" in run.stdout


def test_bad_records_are_one_line_errors(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    run = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "pretrain_bert_tiny.py"),
                          "--train", str(tmp_path), "--eval", str(tmp_path), "--vocab", str(VOCAB)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (f"pretrain_bert_tiny.py: error: {tmp_path}: a directory without "
                                                   "record files (*.tfrecord, *.tfrecord.gz)")
