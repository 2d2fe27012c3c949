"""`wptk tokenize` as a user runs it: outputs, streaming formats, and one-line errors for bad input."""
import gzip
import json
import os
import subprocess
import sys

import pytest

from wptk.testing import require_shared, run_wptk

SMALL_VOCAB = "[PAD]\n[UNK]\nhello\n,\nworld\n!\ncafe\n##s\n"


@pytest.fixture
def vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text(SMALL_VOCAB, encoding="utf-8")
    return str(path)


def test_tokens_ids_and_offsets(vocab, tmp_path):
    code, out, err = run_wptk("tokenize", "--vocab", vocab, stdin="Hello, World!\n\nCafés x\n".encode())
    assert code == 0, err
    assert out.split("\n") == ["hello , world !", "", "cafe ##s [UNK]", ""]
    code, out, _ = run_wptk("tokenize", "--vocab", vocab, "--ids", "--offsets", stdin=b"Hello, World!")
    assert out == "2 3 4 5\t0:5 5:6 7:12 12:13\n"


def test_jsonl_in_and_out(vocab, tmp_path):
    lines = [json.dumps({"text": "Hello\u2028world!"}), json.dumps({"text": "x", "id": 7})]
    code, out, err = run_wptk("tokenize", "--vocab", vocab, "--jsonl", "--offsets", stdin="\n".join(lines).encode())
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [{"tokens": ["hello", "world", "!"], "ids": [2, 4, 5], "offsets": [[0, 5], [6, 11], [11, 12]]},
                    {"tokens": ["[UNK]"], "ids": [1], "offsets": [[0, 1]]}]
    code, _, err = run_wptk("tokenize", "--vocab", vocab, "--jsonl", stdin=b'{"txt": 1}\n')
    assert code == 1 and "input line 1" in err and "Traceback" not in err


def test_files_and_atomic_output(vocab, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("hello\nworld", encoding="utf-8")
    b.write_text("!\n", encoding="utf-8")
    out_file = tmp_path / "out.txt"
    code, out, err = run_wptk("tokenize", "--vocab", vocab, str(a), str(b), "-o", str(out_file))
    assert code == 0 and out == "", err
    assert out_file.read_text(encoding="utf-8") == "hello\nworld\n!\n"
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(a), str(tmp_path / "missing.txt"), "-o",
                            str(tmp_path / "never.txt"))
    assert code == 1 and "missing.txt" in err
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt", "out.txt", "vocab.txt"]
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(a), "-o", str(a))
    assert code == 1 and f"-o {a} is also an input ({a}): writing it would replace the input" in err
    assert a.read_text(encoding="utf-8") == "hello\nworld"


def test_a_failed_write_is_one_line_naming_the_file_and_leaves_nothing(vocab, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello, world!\n" * 2000, encoding="utf-8")
    out_file = tmp_path / "out.txt"
    code, out, err = run_wptk("tokenize", "--vocab", vocab, str(src), "-o", str(out_file), max_file_bytes=4096)
    assert code == 1 and err == f"wptk tokenize: error: {out_file}: File too large\n", err
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "vocab.txt"]


def test_compressed_files_are_tokenized_as_their_text(vocab, tmp_path):
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress("Hello, World!\ncafes\n".encode()))
    code, out, err = run_wptk("tokenize", "--vocab", vocab, str(tmp_path / "a.txt.gz"))
    assert code == 0 and out == "hello , world !\ncafe ##s\n", err


def test_invalid_utf8_dropped_and_counted_or_strict(vocab, tmp_path):
    bad = b"hel\xfflo\nok \xe2\x82\nworld\n"
    code, out, err = run_wptk("tokenize", "--vocab", vocab, stdin=bad)
    assert code == 0
    assert out.split("\n")[:3] == ["hello", "[UNK]", "world"]
    assert "dropped 3 invalid UTF-8 byte(s) in 2 line(s)" in err
    src = tmp_path / "bad.txt"
    src.write_bytes(bad)
    code, out, err = run_wptk("tokenize", "--vocab", vocab, "--errors", "strict", str(src), "-o",
                              str(tmp_path / "out.txt"))
    assert code == 1 and f"{src}:1: invalid UTF-8 at byte 3" in err and "Traceback" not in err
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("content, message", [
    (None, "cannot read vocab file"),
    (b"", "is empty"),
    (b"hello\nworld\n", "has no [UNK] token"),
    (b"\xff\xfe[UNK]\n", "not valid UTF-8"),
])
def test_bad_vocab_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "vocab.txt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_wptk("tokenize", "--vocab", str(path), stdin=b"hello\n")
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_bad_flags_and_unreadable_input(vocab, tmp_path):
    code, _, err = run_wptk("tokenize", "--vocab", vocab, "--errors", "maybe")
    assert code == 2 and "invalid choice" in err
    code, _, err = run_wptk("tokenize", "--vocab", vocab, str(tmp_path))
    assert code == 1 and err.startswith(f"wptk tokenize: error: input {tmp_path} is a directory: name its files")


def test_help_explains_every_flag():
    code, out, _ = run_wptk("tokenize", "--help")
    assert code == 0
    for flag in ["--vocab", "--no-lower", "--ids", "--jsonl", "--offsets", "--errors", "--output",
                 "--strip-accents"]:
        assert flag in out
    code, out, _ = run_wptk("--help")
    assert code == 0 and "tokenize" in out and "create-pretraining-data" in out


def test_starting_the_cli_imports_neither_tensorflow_nor_beam():
    probe = ("import sys, wptk.cli; wptk.cli.build_parser(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'apache_beam')))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_case_mismatch_warning_is_one_line():
    vocab = require_shared() / "vocab" / "bert-base-cased.vocab.txt"
    code, out, err = run_wptk("tokenize", "--vocab", str(vocab), stdin=b"Hello\n")
    assert code == 0 and out == "hello\n"
    assert err.startswith("wptk tokenize: warning:") and len(err.strip().splitlines()) == 1


def test_demo_runs_on_bundled_sample(tmp_path):
    code, out, err = run_wptk("demo", "--output_dir", str(tmp_path / "demo"))
    assert code == 0, err
    assert list((tmp_path / "demo").glob("train-*.tfrecord")) and (tmp_path / "demo" / "summary.json").exists()


def test_a_line_over_the_limit_is_an_error_naming_the_file_and_line(vocab, tmp_path):
    (tmp_path / "in.txt").write_bytes(b"hello\n" + b"hello " * 200_000 + b"\nworld\n")
    code, out, err = run_wptk("tokenize", "--vocab", vocab, str(tmp_path / "in.txt"), "--max_line_mb=1")
    assert (code, err) == (1, f"wptk tokenize: error: {tmp_path / 'in.txt'}:2: line longer than --max_line_mb=1 "
                              "MiB: split the line, or raise the limit\n")
    code, out, err = run_wptk("tokenize", "--vocab", vocab, str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.txt"))
    assert code == 0 and len((tmp_path / "o.txt").read_text().split("\n")) == 4


def test_an_endless_line_on_stdin_is_an_error_not_endless_memory(vocab):
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "wptk", "tokenize", "--vocab", vocab, "--max_line_mb=4"],
                              stdin=zero, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (1, "wptk tokenize: error: <stdin>:1: line longer than "
                                                 "--max_line_mb=4 MiB: split the line, or raise the limit\n")


def test_deeply_nested_json_is_one_line(vocab):
    code, _, err = run_wptk("tokenize", "--vocab", vocab, "--jsonl", stdin=b"[" * 100_000 + b"\n")
    assert (code, err) == (1, 'wptk tokenize: error: input line 1: JSON nested too deeply to read; give each '
                              'line a flat {"text": ...} object\n')
