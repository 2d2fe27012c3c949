"""create-pretraining-data reproduces the reference's records (../shared/data/golden/pretraining/*)."""
import pytest

from wptk.testing import VISIBLE_CASES, case_flags, golden_cases, read_pretraining_records, require_shared, run_wptk


def test_the_visible_cases_are_there():
    root = require_shared() / "golden" / "pretraining"
    assert all((root / case / "expected.tfrecord").is_file() for case in VISIBLE_CASES)


@pytest.mark.parametrize("case", golden_cases())
@pytest.mark.parametrize("gzip", [False, True])
def test_records_match_golden(tmp_path, case, gzip):
    root, flags, vocab, seq, pred = case_flags(case)
    out = tmp_path / "out.tfrecord"
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={root / 'input.txt'}", f"--output_file={out}",
                            f"--vocab_file={vocab}", *flags, *(["--gzip"] if gzip else []), "--quiet")
    assert code == 0, err
    expected = read_pretraining_records([root / "expected.tfrecord"], seq, pred)
    got = read_pretraining_records([out], seq, pred, gzip=gzip)
    assert len(got) == len(expected) > 100
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"record {i} differs"


def test_round_robin_over_output_files_and_absl_spellings(tmp_path):
    root, flags, vocab, seq, pred = case_flags("austen_defaults")
    outs = [tmp_path / f"part{i}.tfrecord" for i in range(3)]
    code, _, err = run_wptk("create-pretraining-data", "--input_file", str(root / "input.txt"), "--output_file",
                            ",".join(map(str, outs)), "--vocab_file", str(vocab), "--do_lower_case", "-dupe_factor=10",
                            "--nodo_whole_word_mask", "--quiet")
    assert code == 0, err
    expected = read_pretraining_records([root / "expected.tfrecord"], seq, pred)
    parts = [read_pretraining_records([p], seq, pred) for p in outs]
    assert [len(p) for p in parts] == [len(expected[i::3]) for i in range(3)]
    for i in range(3):
        assert parts[i] == expected[i::3]


def test_records_can_stream_from_stdin_to_stdout(tmp_path):
    """--input_file=/dev/stdin reads a pipe; --output_file=/dev/stdout streams the records (a pipe cannot be
    written atomically, nor needs to be)."""
    import subprocess
    import sys
    root, flags, vocab, seq, pred = case_flags("austen_defaults")
    proc = subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", "--input_file=/dev/stdin",
                           "--output_file=/dev/stdout", f"--vocab_file={vocab}", *flags, "--quiet"],
                          input=(root / "input.txt").read_bytes(), capture_output=True)     # pipes both ways
    assert proc.returncode == 0, proc.stderr.decode()
    (tmp_path / "out.tfrecord").write_bytes(proc.stdout)
    assert read_pretraining_records([tmp_path / "out.tfrecord"], seq, pred) == \
        read_pretraining_records([root / "expected.tfrecord"], seq, pred)
