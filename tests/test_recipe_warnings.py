"""Run-time warnings when the records miss the recipe their flags ask for, and silence when they do not."""
import json
import os
import subprocess
import sys

import pytest

from wptk.testing import REPO_ROOT, case_flags, golden_cases, run_wptk

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"


def warnings_of(err):
    return [line.split(": warning: ", 1)[1] for line in err.splitlines() if ": warning: " in line]


def make(tmp_path, text, *flags):
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={tmp_path / 'in.txt'}",
                            f"--output_file={tmp_path / 'out.tfrecord'}", f"--vocab_file={VOCAB}", "--dupe_factor=1",
                            *flags)
    assert code == 0, err
    return err


def test_masks_capped_by_max_predictions_per_seq_are_warned_about(tmp_path):
    err = make(tmp_path, SAMPLE.read_text(encoding="utf-8"), "--max_seq_length=512")
    [warning] = warnings_of(err)
    assert warning.startswith("max_predictions_per_seq=20 cut the masks short in ")
    assert "use --max_predictions_per_seq=77 " in warning
    assert warnings_of(make(tmp_path, SAMPLE.read_text(encoding="utf-8"), "--max_seq_length=512",
                            "--max_predictions_per_seq=77")) == []


def test_one_sentence_documents_are_warned_about(tmp_path):
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").split("\n") if line.strip()]
    [warning] = warnings_of(make(tmp_path, "\n\n".join(lines) + "\n"))
    assert "100% of pairs are random next" in warning and "100% of documents are one sentence" in warning
    assert warnings_of(make(tmp_path, SAMPLE.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("case", golden_cases())
def test_the_goldens_flags_and_inputs_give_no_warning(tmp_path, case):
    root, flags, vocab, _, _ = case_flags(case)
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={root / 'input.txt'}",
                            f"--output_file={tmp_path / 'out.tfrecord'}", f"--vocab_file={vocab}", *flags)
    assert code == 0 and warnings_of(err) == [], err


def test_the_pipeline_warns_alike_and_about_empty_buckets(tmp_path):
    (tmp_path / "in.txt").write_text("The cat sat.\nOn the mat.\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data",
                           f"--input_file={tmp_path / 'in.txt'}", f"--output_dir={tmp_path / 'out'}",
                           f"--vocab_file={VOCAB}", "--num_buckets=4", "--runner=DirectRunner"],
                          capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert any(w.startswith("3 of 4 buckets hold no instances") for w in warnings_of(proc.stderr))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["empty_buckets"] == 3
    assert set(summary["profile"]) >= {"padding_share", "masked_share", "capped_share", "random_next_share"}
