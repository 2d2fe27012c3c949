"""No command writes over what it reads or writes one file twice; odd input paths get messages that say why."""
import os
import subprocess
import sys

import pytest

from wptk.testing import run_wptk

VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\n.\n"
TEXT = "The cat sat.\nThe cat sat.\n\nThe cat.\nSat.\n"


@pytest.fixture
def work(tmp_path):
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "vocab.txt").write_text(VOCAB, encoding="utf-8")
    return tmp_path


def unchanged(work):
    return (work / "in.txt").read_text(encoding="utf-8") == TEXT and \
        (work / "vocab.txt").read_text(encoding="utf-8") == VOCAB


def one_line_error(code, err, message):
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert message in err, err


def test_tokenize_refuses_an_output_that_is_its_standard_input(work):
    with open(work / "in.txt", "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "wptk", "tokenize", "--vocab", str(work / "vocab.txt"),
                               "-o", str(work / "in.txt"), "-"], stdin=stdin, capture_output=True, text=True)
    one_line_error(proc.returncode, proc.stderr, "is also an input (standard input)")
    assert unchanged(work)


def test_tokenize_refuses_standard_output_appended_to_its_input(work):
    with open(work / "in.txt", "ab") as stdout:
        proc = subprocess.run([sys.executable, "-m", "wptk", "tokenize", "--vocab", str(work / "vocab.txt"),
                               str(work / "in.txt")], stdout=stdout, stderr=subprocess.PIPE, text=True)
    one_line_error(proc.returncode, proc.stderr, "standard output is the input file")
    assert unchanged(work)


@pytest.mark.parametrize("alias", ["symlink", "hardlink", "vocab"])
def test_an_output_that_is_an_input_under_another_name_is_refused(work, alias):
    target = work / "vocab.txt" if alias == "vocab" else work / "in.txt"
    out = work / "alias.txt"
    if alias == "symlink":
        out.symlink_to(target)
    elif alias == "hardlink":
        os.link(target, out)
    else:
        out = target
    code, _, err = run_wptk("tokenize", "--vocab", str(work / "vocab.txt"), str(work / "in.txt"), "-o", str(out))
    one_line_error(code, err, "is also an input")
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", f"--output_file={out}",
                            f"--vocab_file={work / 'vocab.txt'}", "--quiet")
    one_line_error(code, err, "is also an input")
    assert unchanged(work)


def test_vocab_refuses_to_write_over_its_input(work):
    pytest.importorskip("apache_beam")
    code, _, err = run_wptk("vocab", f"--input_file={work / 'in.txt'}", f"--output={work / 'in.txt'}",
                            "--vocab_size=120", "--quiet")
    one_line_error(code, err, "is also an input")
    assert unchanged(work)


@pytest.mark.parametrize("second", ["out.tfrecord", "./out.tfrecord", "sub/../out.tfrecord"])
def test_one_output_file_named_twice_is_an_error(work, second):
    (work / "sub").mkdir()
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}",
                            f"--output_file={work / 'out.tfrecord'},{work / second}",
                            f"--vocab_file={work / 'vocab.txt'}", "--quiet")
    one_line_error(code, err, "--output_file names one file twice")
    assert not list(work.glob("*.tfrecord")) and not list(work.glob(".*tmp*"))


def test_a_device_may_be_named_twice(work):
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}",
                            "--output_file=/dev/null,/dev/null", f"--vocab_file={work / 'vocab.txt'}", "--quiet")
    assert code == 0, err


def test_tokenize_reads_a_fifo_and_process_substitution(work):
    fifo = work / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "wptk", "tokenize", "--vocab", str(work / "vocab.txt"), str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "w", encoding="utf-8") as f:
        f.write("the cat\n")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "the cat\n", err
    proc = subprocess.run(["bash", "-c", f'"{sys.executable}" -m wptk tokenize --vocab "{work / "vocab.txt"}" '
                                         f'<(printf "sat .\\n")'], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "sat .\n", proc.stderr


def test_odd_paths_get_messages_that_say_what_is_wrong(work):
    vocab = str(work / "vocab.txt")
    (work / "loop1").symlink_to(work / "loop2")
    (work / "loop2").symlink_to(work / "loop1")
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(work / "loop1"))
    one_line_error(code, err, "a loop of symbolic links")
    (work / "gone").symlink_to(work / "nowhere.txt")
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(work / "gone"))
    one_line_error(code, err, "a symbolic link to")
    (work / "dangling").symlink_to(work / "no_dir" / "x.txt")
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(work / "in.txt"), "-o", str(work / "dangling"))
    one_line_error(code, err, "is a symbolic link to")
    assert "whose directory does not exist" in err
    code, _, err = run_wptk("create-pretraining-data", "--input_file=", f"--output_file={work / 'o.tfrecord'}",
                            f"--vocab_file={vocab}", "--quiet")
    one_line_error(code, err, "--input_file names no file")


def test_an_existing_file_whose_name_holds_glob_characters_is_read_as_named(work):
    (work / "[x].txt").write_text(TEXT, encoding="utf-8")
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / '[x].txt'}",
                            f"--output_file={work / 'o.tfrecord'}", f"--vocab_file={work / 'vocab.txt'}", "--quiet")
    assert code == 0, err
    assert (work / "o.tfrecord").stat().st_size > 0
