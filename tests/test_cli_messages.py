"""Messages name the command's own flags, absl's flag forms work, and --help answers the user's question."""
import os
import subprocess
import sys

import pytest

from wptk.testing import REPO_ROOT, run_wptk, vocab_path

TEXT = "The Cat sat.\nOn the Mat.\n\nA Dog ran.\nFar away.\n"


@pytest.fixture
def work(tmp_path):
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


def pipeline(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data", *args, "--runner=DirectRunner"],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    return proc.returncode, proc.stdout, proc.stderr


def warnings_of(err):
    return [line for line in err.splitlines() if ": warning: " in line]


def test_case_warnings_name_the_flags_of_the_command_that_ran(work):
    cased, uncased = vocab_path("cased"), vocab_path("uncased")
    if cased is None:
        pytest.skip("../shared/data not found")
    code, _, err = run_wptk("tokenize", "--vocab", cased, str(work / "in.txt"))
    assert code == 0 and warnings_of(err) == [w for w in warnings_of(err) if w.startswith("wptk tokenize: warning:")]
    assert "use --no-lower for cased models" in err
    code, _, err = run_wptk("tokenize", "--vocab", uncased, "--no_lower", str(work / "in.txt"))
    assert code == 0 and "but --no-lower keeps case" in err and "use --lower for uncased models" in err
    out = f"--output_file={work / 'o.tfrecord'}"
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", out, f"--vocab_file={cased}",
                            "--quiet")
    assert code == 0 and "wptk create-pretraining-data: warning:" in err
    assert "use --do_lower_case=False for cased models" in err and "--no-lower" not in err
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", out,
                            f"--vocab_file={uncased}", "--multilingual=yes", "--quiet")
    assert code == 0 and "but --multilingual=yes keeps case" in err and "do_lower_case" not in err
    code, _, err = pipeline(f"--input_file={work / 'in.txt'}", f"--output_dir={work / 'out'}", f"--vocab_file={cased}",
                            "--num_buckets=1", "--quiet", cwd=work)
    assert code == 0, err
    assert warnings_of(err) == ["python -m pipelines.create_pretraining_data: warning: " + err.split(": warning: ")[1]
                                .splitlines()[0]]
    assert "use --do_lower_case=False for cased models" in err


def test_flagfile_holds_flags_as_absl_reads_them(work):
    vocab = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
    (work / "more.flags").write_text("// nested\n--max_seq_length=32\n-dupe_factor=2\n", encoding="utf-8")
    (work / "run.flags").write_text(f"# the corpus\n--input_file={work / 'in.txt'}\n\n  --vocab_file={vocab}  \n"
                                    f"--flagfile={work / 'more.flags'}\n--random_seed=-3\n", encoding="utf-8")
    code, _, err = run_wptk("create-pretraining-data", f"--flagfile={work / 'run.flags'}",
                            f"--output_file={work / 'a.tfrecord'}", "--quiet")
    assert code == 0, err
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", f"--vocab_file={vocab}",
                            "--max_seq_length=32", "--dupe_factor=2", "--random_seed=-3",
                            f"--output_file={work / 'b.tfrecord'}", "--quiet")
    assert code == 0, err
    assert (work / "a.tfrecord").read_bytes() == (work / "b.tfrecord").read_bytes()
    code, _, err = pipeline(f"--flagfile={work / 'run.flags'}", f"--output_dir={work / 'out'}", "--quiet", cwd=work)
    assert code == 0, err
    assert (work / "out" / "summary.json").exists()


@pytest.mark.parametrize("content, message", [
    (None, "cannot read --flagfile="),
    ("--max_seq_length=32\nmax_seq_length=64\n", "line 2: not a flag: 'max_seq_length=64'"),
    ("--flagfile={self}\n", "names itself"),
])
def test_a_bad_flagfile_is_a_usage_error(work, content, message):
    path = work / "bad.flags"
    if content is not None:
        path.write_text(content.format(self=path), encoding="utf-8")
    code, _, err = run_wptk("create-pretraining-data", f"--flagfile={path}")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    code, _, err = pipeline(f"--flagfile={path}", cwd=work)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_a_gz_output_without_gzip_is_warned_about(work):
    vocab = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", f"--vocab_file={vocab}",
                            f"--output_file={work / 'o.tfrecord.gz'}", "--quiet")
    assert code == 0 and "o.tfrecord.gz ends in .gz but --gzip is off" in err
    code, _, err = run_wptk("create-pretraining-data", f"--input_file={work / 'in.txt'}", f"--vocab_file={vocab}",
                            f"--output_file={work / 'o.tfrecord.gz'}", "--gzip", "--quiet")
    assert code == 0 and "warning" not in err


def test_help_answers_where_to_go_next(work):
    code, out, _ = run_wptk("--help")
    assert code == 0 and "python -m pipelines.create_pretraining_data" in out
    code, out, _ = run_wptk("vocab", "--help")
    assert code == 0 and all(ext in out for ext in (".gz", ".bz2", ".xz", ".lzma"))
    code, out, _ = pipeline("--help", cwd=work)
    assert code == 0 and out.startswith("usage: python -m pipelines.create_pretraining_data")
    assert out.index("example:") < out.index("--input_file INPUT_FILE") < out.index("How the job runs")
