"""The Beam pipeline refuses bad input, bad flags and occupied output directories with one-line errors, and leaves
nothing behind."""
import gzip
import os
import random
import subprocess
import sys

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from wptk import pretraining as pt  # noqa: E402
from wptk.beam import create_pretraining_data as cpd  # noqa: E402
from wptk.beam.testing import BUCKETS, FLAGS, VOCAB, corpus_text, outputs, pipeline_cli, run  # noqa: E402
from wptk.errors import WptkError  # noqa: E402
from wptk.testing import REPO_ROOT  # noqa: E402


def test_a_pattern_that_matches_nothing_or_a_directory(tmp_path, corpus):
    with pytest.raises(WptkError, match="input file not found: .*nothing"):
        run(tmp_path, f"{corpus},{tmp_path}/nothing*.txt")
    (tmp_path / "corpus").mkdir()
    with pytest.raises(WptkError, match=f"--input_file {tmp_path / 'corpus'} is a directory: name its files, or "
                                        "a glob such as '.*corpus/[*]' [(]quoted[)]$"):
        run(tmp_path, tmp_path / "corpus")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_pipe_is_refused_not_read_as_empty(tmp_path):
    """A pipe's size is 0, so a byte-range reader would find no documents in it."""
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(WptkError, match="pipe.txt is not a regular file .* use wptk create-pretraining-data"):
        run(tmp_path, tmp_path / "pipe.txt")
    assert not (tmp_path / "out").exists()


def test_empty_inputs_and_inputs_without_documents(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(WptkError, match="every input file is empty"):
        run(tmp_path, tmp_path / "empty.txt")
    (tmp_path / "blank.txt").write_text("\n \n\t\n\n", encoding="utf-8")
    (tmp_path / "control.txt.gz").write_bytes(gzip.compress(b"\x01\x02\n\n\x7f\n"))
    with pytest.raises(WptkError, match="the input has no documents"):
        run(tmp_path, f"{tmp_path}/blank.txt,{tmp_path}/control.txt.gz")
    assert not (tmp_path / "out").exists()    # nothing left behind, not even the directory it made


def test_a_failed_job_keeps_an_output_dir_it_did_not_make(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "blank.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(WptkError, match="the input has no documents"):
        run(tmp_path, tmp_path / "blank.txt", "out/a/b")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_input_among_the_files_the_pipeline_writes_is_refused(tmp_path, corpus):
    (tmp_path / "out").mkdir()
    kept = tmp_path / "out" / "train-00000-of-00004.tfrecord"
    kept.write_bytes(corpus.read_bytes())
    with pytest.raises(WptkError, match="is a file this pipeline writes or deletes in --output_dir"):
        run(tmp_path, kept, "out", "--overwrite")
    assert kept.read_bytes() == corpus.read_bytes()


def test_binary_files_are_refused(tmp_path, corpus):
    (tmp_path / "model.bin").write_bytes(b"".join(i.to_bytes(4, "little") for i in range(5000)))
    with pytest.raises(WptkError, match="model.bin does not look like UTF-8 text: .*NUL bytes"):
        run(tmp_path, f"{corpus},{tmp_path}/model.bin")
    (tmp_path / "latin.bin.gz").write_bytes(gzip.compress(bytes(random.Random(1).randrange(128, 256)
                                                                for _ in range(4000))))
    with pytest.raises(WptkError, match="latin.bin.gz does not look like UTF-8 text: .*invalid UTF-8"):
        run(tmp_path, tmp_path / "latin.bin.gz")
    assert not (tmp_path / "out").exists()


MULTI_PROCESSING = ("--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")


@pytest.mark.parametrize("engine", [(), MULTI_PROCESSING], ids=["in_memory", "multi_processing"])
def test_a_document_larger_than_the_limit_is_a_one_line_error(tmp_path, engine):
    (tmp_path / "big.txt").write_text("A line of a long document.\n" * 50000 + "\nsmall\n", encoding="utf-8")
    code, out, err = pipeline_cli(f"--input_file={tmp_path / 'big.txt'}", f"--output_dir={tmp_path / 'out'}",
                                  f"--vocab_file={VOCAB}", "--max_document_mb=1", *engine)
    assert code == 1, err
    assert err == (f"python -m pipelines.create_pretraining_data: error: {tmp_path / 'big.txt'}: the document at "
                   "byte 0 is larger than --max_document_mb=1 (no blank line for that long): split it, or raise "
                   "the limit\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine", [(), MULTI_PROCESSING], ids=["in_memory", "multi_processing"])
def test_a_failed_write_is_one_line_naming_the_file(tmp_path, docs, engine):
    """A file-size limit stands in for a full disk: the spill file (the input's size) fits, the bucket's output
    does not."""
    (tmp_path / "in.txt").write_text(corpus_text(docs[:20]), encoding="utf-8")
    code, out, err = pipeline_cli(f"--input_file={tmp_path / 'in.txt'}", f"--output_dir={tmp_path / 'out'}",
                                  f"--vocab_file={VOCAB}", "--num_buckets=1", *FLAGS, *engine,
                                  max_file_bytes=24 * 1024)
    assert code == 1, err
    assert err == (f"python -m pipelines.create_pretraining_data: error: cannot write "
                   f"{tmp_path / 'out' / 'train-00000-of-00001.tfrecord'}: File too large\n")
    assert not (tmp_path / "out").exists()


def test_an_output_dir_with_another_run_is_refused_unless_overwrite(tmp_path, docs):
    (tmp_path / "in.txt").write_text(corpus_text(docs[:6]), encoding="utf-8")
    run(tmp_path, tmp_path / "in.txt", "out", "--num_buckets=3")
    before = outputs(tmp_path / "out")
    with pytest.raises(WptkError, match="already holds the output of another run .* pass --overwrite"):
        run(tmp_path, tmp_path / "in.txt", "out")
    assert outputs(tmp_path / "out") == before
    (tmp_path / "out" / "notes.txt").write_text("kept", encoding="utf-8")
    for name in ("train-00000-of-00003.tfrecord", "summary.json"):
        (tmp_path / "out" / name).unlink()
    (tmp_path / "out" / ".wptk-shuffle-0123" / "x.docs").parent.mkdir()
    (tmp_path / "out" / ".wptk-shuffle-0123" / "x.docs").write_bytes(b"left by a crashed run")
    with pytest.raises(WptkError, match="already holds the output of another run"):
        run(tmp_path, tmp_path / "in.txt", "out")
    summary, directory = run(tmp_path, tmp_path / "in.txt", "out", "--overwrite", "--gzip")
    assert sorted(p.name for p in directory.iterdir()) == sorted(summary["output_files"] + ["summary.json",
                                                                                           "notes.txt"])
    assert all(name.endswith(f"-of-{BUCKETS:05d}.tfrecord.gz") for name in summary["output_files"])


@pytest.mark.parametrize("flag, message", [
    ("--max_seq_length=4", "max_seq_length=4 is too small"),
    ("--dupe_factor=0", "dupe_factor must be positive"),
    ("--num_buckets=0", "--num_buckets must be between 1 and 99999"),
    ("--max_document_mb=0", "--max_document_mb must be positive"),
    ("--output_file=x.tfrecord", "--output_file is not a flag of the pipeline"),
    ("--dupe_factr=3", "unknown flag(s): --dupe_factr=3 (did you mean --dupe_factor?) (neither a flag of this "
                       "pipeline nor a Beam pipeline option"),
    ("--direct_num_worker=2", "unknown flag(s): --direct_num_worker=2 (did you mean --direct_num_workers?)"),
    ("--runner=NoSuchRunner", "--runner=NoSuchRunner: Unexpected pipeline runner"),
])
def test_bad_flags(tmp_path, corpus, flag, message):
    with pytest.raises(WptkError) as e:
        run(tmp_path, corpus, "out", flag)
    assert message in str(e.value)


@pytest.mark.parametrize("module, output_flag", [("pipelines.create_pretraining_data", "--output_dir=out"),
                                                  ("pipelines.word_count", "--output=counts/c")])
def test_stray_arguments_are_usage_errors_not_dropped_files(tmp_path, module, output_flag):
    """An unquoted glob expanded by the shell: every path but the first used to be dropped with exit status 0."""
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("The cat sat.\nOn the mat.\n", encoding="utf-8")
    flags = [output_flag] + ([f"--vocab_file={VOCAB}"] if "pretraining" in module else [])
    proc = subprocess.run([sys.executable, "-m", module, "--input_file", "a.txt", "b.txt", "c.txt", *flags,
                           "--runner=DirectRunner"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "unrecognized arguments: b.txt c.txt" in proc.stderr
    assert "quote the glob" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]


def test_reference_flag_spellings(tmp_path, docs):
    args, config, beam_argv = cpd.parse_args(["--input_file=x", "--output_dir=y", "--vocab_file=v",
                                              "--nodo_lower_case", "--do_whole_word_mask", "--gzip",
                                              "--max_seq_length", "32", "--split_sentences", "--nooverwrite",
                                              "--runner=DirectRunner"])
    assert (args.do_lower_case, config.masking, args.gzip, config.max_seq_length) == (False, "whole_word", True, 32)
    assert args.split_sentences is True and args.overwrite is False and beam_argv == ["--runner=DirectRunner"]
    defaults, config, _ = cpd.parse_args(["--input_file=x", "--output_dir=y", "--vocab_file=v"])
    assert config == pt.PretrainingConfig() and defaults.do_lower_case and not defaults.gzip
