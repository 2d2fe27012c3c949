"""Bad input to create-pretraining-data: a one-line error naming the problem, non-zero exit, no output file."""
import bz2
import gzip
import lzma

import pytest

from wptk.testing import run_wptk

GOOD_VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\n.\n"


@pytest.fixture
def work(tmp_path):
    (tmp_path / "in.txt").write_text("The cat sat.\nThe cat sat.\n\nThe cat.\nSat.\n", encoding="utf-8")
    (tmp_path / "vocab.txt").write_text(GOOD_VOCAB, encoding="utf-8")
    return tmp_path


def run(work, *extra, input_file=None, vocab=None, output=None, max_file_bytes=None):
    return run_wptk("create-pretraining-data", f"--input_file={input_file or work / 'in.txt'}",
                    f"--output_file={output or work / 'out.tfrecord'}", f"--vocab_file={vocab or work / 'vocab.txt'}",
                    "--quiet", *extra, max_file_bytes=max_file_bytes)


def assert_clean_failure(work, code, err, message):
    assert code == 1, err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not list(work.glob("out*")) and not list(work.glob(".out*"))


def test_good_input_works(work):
    code, _, err = run(work)
    assert code == 0, err
    assert (work / "out.tfrecord").stat().st_size > 0


@pytest.mark.parametrize("vocab_text, message", [
    (None, "cannot read vocab file"),
    ("", "is empty"),
    ("[PAD]\n[UNK]\n[SEP]\n[MASK]\nthe\n", "has no [CLS] token"),
    ("[PAD]\n[UNK]\n[CLS]\n[MASK]\nthe\n", "has no [SEP] token"),
    ("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n", "has no [MASK] token"),
    ("[PAD]\n[CLS]\n[SEP]\n[MASK]\nthe\n", "has no [UNK] token"),
])
def test_bad_vocab(work, vocab_text, message):
    vocab = work / "bad_vocab.txt"
    if vocab_text is not None:
        vocab.write_text(vocab_text, encoding="utf-8")
    code, _, err = run(work, vocab=vocab)
    assert_clean_failure(work, code, err, message)


@pytest.mark.parametrize("flag, message", [
    ("--max_seq_length=4", "max_seq_length=4 is too small"),
    ("--max_predictions_per_seq=0", "max_predictions_per_seq must be positive"),
    ("--max_predictions_per_seq=-3", "max_predictions_per_seq must be positive"),
    ("--dupe_factor=0", "dupe_factor must be positive"),
    ("--masked_lm_prob=1.5", "masked_lm_prob must be in [0, 1]"),
    ("--short_seq_prob=-0.1", "short_seq_prob must be in [0, 1]"),
    ("--log_examples=-1", "--log_examples must be >= 0"),
    # numbers that would overflow or exhaust memory are refused before any work, saying what to change
    ("--max_predictions_per_seq=2147483648", "max_predictions_per_seq=2,147,483,648 is too large"),
    ("--dupe_factor=1000000000000", "dupe_factor=1,000,000,000,000 is too large"),
    ("--max_line_mb=0", "--max_line_mb must be positive"),
])
def test_bad_flag_values(work, flag, message):
    code, _, err = run(work, flag)
    assert_clean_failure(work, code, err, message)


@pytest.mark.parametrize("flag, message", [
    ("--max_seq_length=abc", "argument --max_seq_length: invalid int value: 'abc'"),
    ("--do_lower_case=maybe", "argument --do_lower_case: invalid boolean value: 'maybe'"),
    ("--max_seq_lenght=64", "unrecognized arguments: --max_seq_lenght=64 (did you mean --max_seq_length?)"),
    ("--dupe_factor", "argument --dupe_factor: expected one argument"),
])
def test_unparseable_flags_are_one_line_usage_errors(work, flag, message):
    code, _, err = run(work, flag)
    assert code == 2 and err.startswith(f"wptk create-pretraining-data: error: {message}") and \
        err.endswith("; see wptk create-pretraining-data --help\n") and len(err.splitlines()) == 1, err
    assert not list(work.glob("out*"))


def test_missing_flags_and_commands_are_one_line_usage_errors(work):
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}")
    assert code == 2 and err == ("wptk create-pretraining-data: error: the following arguments are required: "
                                 "--output_file, --vocab_file; see wptk create-pretraining-data --help\n"), err
    code, _, err = run_wptk("create-pretraining-dat")
    assert code == 2 and err.startswith("wptk: error: argument COMMAND: invalid choice: 'create-pretraining-dat'") \
        and len(err.splitlines()) == 1, err


def test_inputs_and_outputs(work):
    code, _, err = run(work, input_file=work / "nothing*.txt")
    assert_clean_failure(work, code, err, "input file not found")
    code, _, err = run(work, output=work / "missing_dir" / "out.tfrecord")
    assert_clean_failure(work, code, err, "output directory does not exist")
    (work / "corpus").mkdir()
    code, _, err = run(work, input_file=work / "corpus")
    assert_clean_failure(work, code, err, f"--input_file {work / 'corpus'} is a directory: name its files, or a "
                                          f"glob such as '{work / 'corpus' / '*'}' (quoted)")
    before = (work / "in.txt").read_bytes()
    code, _, err = run(work, output=f"{work / 'other.tfrecord'},{work / '.' / 'in.txt'}")
    assert code == 1 and err.endswith(f"in.txt is also an input ({work / 'in.txt'}): writing it would replace the "
                                      "input\n"), err
    assert (work / "in.txt").read_bytes() == before and not list(work.glob("*.tfrecord"))
    (work / "blank.txt").write_text("\n \n\x00\n", encoding="utf-8")
    code, _, err = run(work, input_file=work / "blank.txt")
    assert_clean_failure(work, code, err, "the input has no documents")


@pytest.mark.parametrize("gzip", [False, True])
def test_a_failed_write_is_one_line_naming_the_file(work, gzip):
    """A file-size limit stands in for a full disk: the write fails midway, the error names the output file."""
    (work / "in.txt").write_text("The cat sat.\nThe cat sat.\n\n" * 200, encoding="utf-8")
    code, _, err = run(work, f"--gzip={gzip}", max_file_bytes=2048)
    assert_clean_failure(work, code, err, f"error: {work / 'out.tfrecord'}: File too large")


def test_an_output_directory_that_cannot_be_written(work):
    code, _, err = run(work, output="/proc/out.tfrecord")
    assert_clean_failure(work, code, err, "error: /proc/out.tfrecord: ")


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_compressed_input_is_read_as_its_text_and_a_truncated_one_is_an_error(work, suffix, compress):
    text = (work / "in.txt").read_bytes() * 50
    (work / "in.txt").write_bytes(text)
    code, _, err = run(work)
    assert code == 0, err
    plain = (work / "out.tfrecord").read_bytes()
    (work / "out.tfrecord").unlink()
    (work / f"in.txt{suffix}").write_bytes(compress(text))
    code, _, err = run(work, input_file=work / f"in.txt{suffix}")
    assert code == 0, err
    assert (work / "out.tfrecord").read_bytes() == plain
    (work / "out.tfrecord").unlink()
    whole = compress(text)
    (work / f"in.txt{suffix}").write_bytes(whole[:len(whole) // 2])
    code, _, err = run(work, input_file=work / f"in.txt{suffix}")
    assert_clean_failure(work, code, err, f"in.txt{suffix}: Compressed file ended before the end-of-stream marker")


def test_invalid_utf8_is_dropped_and_counted_or_strict(work):
    (work / "bad.txt").write_bytes(b"The c\xffat sat.\nThe cat sat.\n\nThe cat.\n")
    code, _, err = run(work, input_file=work / "bad.txt")
    assert code == 0 and "dropped 1 invalid UTF-8 byte(s) in 1 line(s)" in err
    (work / "out.tfrecord").unlink()
    code, _, err = run(work, "--errors=strict", input_file=work / "bad.txt")
    assert_clean_failure(work, code, err, "bad.txt:1: invalid UTF-8 at byte 5")


def test_help_lists_reference_flags():
    code, out, _ = run_wptk("create-pretraining-data", "--help")
    assert code == 0
    for flag in ["--input_file", "--output_file", "--vocab_file", "--do_lower_case", "--do_whole_word_mask",
                 "--max_seq_length", "--max_predictions_per_seq", "--random_seed", "--dupe_factor",
                 "--masked_lm_prob", "--short_seq_prob", "--gzip", "--log_examples"]:
        assert flag in out


def test_log_examples_and_summary(work):
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}",
                            f"--output_file={work / 'out.tfrecord'}", f"--vocab_file={work / 'vocab.txt'}",
                            "--log_examples=2", "--dupe_factor=1")
    assert code == 0, err
    assert err.count("*** Example ***") == 2 and "tokens: [CLS]" in err and "masked_lm_labels:" in err
    assert "2 documents, 4 sentences" in err and "instances" in err


def test_a_warning_when_the_input_needs_more_memory_than_is_available(work, monkeypatch, capsys):
    """The command still runs (the estimate errs high), but says where the memory would run out and what to use."""
    import wptk.program
    from wptk import cli
    args = ["create-pretraining-data", f"--input_file={work / 'in.txt'}", f"--output_file={work / 'out.tfrecord'}",
            f"--vocab_file={work / 'vocab.txt'}", "--quiet"]
    assert cli.main(args) == 0 and capsys.readouterr().err == ""
    monkeypatch.setattr(wptk.program, "available_memory", lambda: 50_000_000)
    assert cli.main(args) == 0
    assert capsys.readouterr().err == (
        "wptk create-pretraining-data: warning: this input needs about 70 MB of memory in one process, more than "
        "the 50 MB available: the Beam pipeline (python -m pipelines.create_pretraining_data) makes the same kind "
        "of records with memory per bucket\n")


def test_a_line_over_the_limit_is_an_error_naming_the_file_and_line(work):
    (work / "long.txt").write_bytes(b"The cat.\n\n" + b"cat " * 300_000 + b"\nThe cat.\n")
    code, _, err = run(work, "--max_line_mb=1", input_file=work / "long.txt")
    assert_clean_failure(work, code, err, f"{work / 'long.txt'}:3: line longer than --max_line_mb=1 MiB")
    code, _, err = run(work, "--max_line_mb=2", input_file=work / "long.txt")
    assert code == 0, err


def test_an_endless_line_is_an_error_not_endless_memory(work):
    import subprocess
    import sys
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", "--input_file=/dev/stdin",
                               f"--output_file={work / 'out.tfrecord'}", f"--vocab_file={work / 'vocab.txt'}",
                               "--max_line_mb=8"], stdin=zero, capture_output=True, text=True, timeout=60)
    assert_clean_failure(work, proc.returncode, proc.stderr, "/dev/stdin:1: line longer than --max_line_mb=8 MiB")
