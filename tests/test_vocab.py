"""`wptk vocab`: BERT's layout and exact size, every character covered, Beam byte ranges, determinism across runs
and runners, kept word counts, the vocabulary feeding create-pretraining-data, and bad input (the learner itself:
test_vocab_learner.py)."""
import collections
import gzip
import re
import subprocess
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("apache_beam", reason="wptk vocab counts words with Apache Beam (pip install -e '.[beam]')")

import wptk  # noqa: E402
from wptk.testing import REPO_ROOT, shared_data  # noqa: E402
from wptk.beam import word_count as wc  # noqa: E402
from wptk import cli  # noqa: E402
from wptk.errors import WptkError  # noqa: E402
from wptk import vocab_learner as vl  # noqa: E402

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
SIZE = 600
BERT_HEAD = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocab_cli(capsys, *args):
    """Runs `wptk vocab ARGS` in this process: (exit status, stderr)."""
    code = cli.main(["vocab", *map(str, args)])
    return code, capsys.readouterr().err


def lines(path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def sample_counts(lower=True):
    return collections.Counter(wptk.BasicTokenizer(do_lower_case=lower).tokenize(SAMPLE.read_text("utf-8")))


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """The sample's vocabulary, learned once by the command line: (path, summary on stderr)."""
    out = tmp_path_factory.mktemp("learned") / "vocab.txt"
    code = cli.main(["vocab", f"--input_file={SAMPLE}", f"--output={out}", f"--vocab_size={SIZE}", "--quiet"])
    assert code == 0
    return out


# ------------------------------------------------------------------------------------------------- the file


def test_layout_and_exact_size(learned):
    tokens = lines(learned)
    assert len(tokens) == SIZE and len(set(tokens)) == SIZE
    assert tokens[:104] == BERT_HEAD
    vocab = wptk.load_vocab(learned)                       # BERT's reader: every line survives strip()
    assert len(vocab) == SIZE and all(vocab[t] == i for i, t in enumerate(tokens))
    assert all(t and t == t.strip() for t in tokens)
    learned_part = tokens[104:]
    assert any(len(t) > 1 and not t.startswith("##") for t in learned_part)    # whole words
    assert any(len(t) > 3 and t.startswith("##") for t in learned_part)        # suffixes


def test_layout_matches_bert_base_uncased():
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data not found")
    bert = (root / "vocab" / "bert-base-uncased.vocab.txt").read_text(encoding="utf-8").split("\n")
    assert bert[:104] == BERT_HEAD == vl.special_tokens()


def test_reserved_unused_and_size(capsys, tmp_path):
    out = tmp_path / "v.txt"
    code, err = vocab_cli(capsys, f"--input_file={SAMPLE}", f"--output={out}", "--vocab_size=300",
                          "--reserved_unused=3", "--quiet")
    assert code == 0, err
    tokens = lines(out)
    assert len(tokens) == 300
    assert tokens[:8] == ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_every_character_covered(learned):
    vocab = set(lines(learned))
    words = sample_counts()
    for word in words:
        assert word[0] in vocab, word
        for c in word[1:]:
            assert "##" + c in vocab, (word, c)
    tokenizer = wptk.FullTokenizer(str(learned))
    ids, _ = tokenizer.encode_batch(SAMPLE.read_text("utf-8").split("\n"))
    assert len(ids) and not (ids == tokenizer.vocab["[UNK]"]).any()
    # punctuation never inside a word gets no ## form (the tokenizer always splits it off)
    assert "," in vocab and "##," not in vocab


def test_min_count_leaves_rare_characters_to_unk(capsys, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma\n" * 5 + "zq\n", encoding="utf-8")
    for min_count, expected in ((1, True), (2, False)):
        out = tmp_path / f"v{min_count}.txt"
        code, err = vocab_cli(capsys, f"--input_file={corpus}", f"--output={out}", "--vocab_size=140",
                              f"--min_count={min_count}", "--quiet")
        assert code == 0, err
        tokens = set(lines(out))
        assert ("z" in tokens) == expected and ("##q" in tokens) == expected
        pieces = wptk.FullTokenizer(str(out)).tokenize("zq alpha")
        assert pieces[-1] == "alpha" and (pieces[:-1] == ["[UNK]"]) != expected


def test_too_small_corpus_is_padded_with_unused(capsys, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("ab ab ba\n", encoding="utf-8")
    out = tmp_path / "v.txt"
    code, err = vocab_cli(capsys, f"--input_file={corpus}", f"--output={out}", "--vocab_size=120")
    assert code == 0, err
    tokens = lines(out)
    assert len(tokens) == 120 and tokens[104:110] == ["a", "b", "##a", "##b", "ab", "ba"]
    assert tokens[110:] == [f"[unused{99 + i}]" for i in range(10)]
    assert "[unused] (the corpus had nothing more to learn)" in err


# ------------------------------------------------------------------------------------------------- counting


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([b"", b"word", b"a b", b"x" * 300, "caf\u00e9\r".encode(), "\u65e5\u672c".encode(),
                                 b"\xff\xfe bad"]), max_size=40), st.booleans(), st.integers(1, 700))
def test_ranges_read_every_line_once(tmp_path_factory, parts, final_newline, split):
    data = b"\n".join(parts) + (b"\n" if final_newline and parts else b"")
    path = tmp_path_factory.mktemp("ranges") / "in.txt"
    path.write_bytes(data)
    ranges = wc.split_ranges([(str(path), len(data))], split)
    chunks = [chunk for r in ranges for chunk in wc.read_range(*r)]
    assert b"".join(chunks) == data
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])        # whole lines only


def test_compressed_files_are_read_whole(tmp_path):
    path = tmp_path / "in.txt.gz"
    text = SAMPLE.read_bytes()
    path.write_bytes(gzip.compress(text))
    ranges = wc.split_ranges([(str(path), path.stat().st_size)], 1000)
    assert len(ranges) == 1 and b"".join(wc.read_range(*ranges[0])) == text


# ------------------------------------------------------------------------------------------------- determinism


def test_same_file_twice_and_on_two_worker_processes(learned, tmp_path):
    again = tmp_path / "again.txt"
    assert cli.main(["vocab", f"--input_file={SAMPLE}", f"--output={again}", f"--vocab_size={SIZE}",
                     "--quiet"]) == 0
    assert again.read_bytes() == learned.read_bytes()
    parallel = tmp_path / "parallel.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "wptk", "vocab", f"--input_file={SAMPLE}", f"--output={parallel}",
         f"--vocab_size={SIZE}", "--runner=DirectRunner", "--direct_running_mode=multi_processing",
         "--direct_num_workers=2", "--input_split_mb=0.01", "--num_shards=3"],
        capture_output=True, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "FnApiRunner (multi_processing, 2 workers)" in err and "INFO" not in err
    assert parallel.read_bytes() == learned.read_bytes()


def test_keep_and_reuse_word_counts(capsys, learned, tmp_path):
    prefix = tmp_path / "counts" / "en"
    prefix.parent.mkdir()
    out = tmp_path / "v.txt"
    code, err = vocab_cli(capsys, f"--input_file={SAMPLE}", f"--output={out}", f"--vocab_size={SIZE}",
                          f"--keep_word_counts={prefix}", "--num_shards=4", "--quiet")
    assert code == 0, err
    assert len(list(prefix.parent.glob("en-*-of-00004.tsv"))) == 4
    counts, _ = wc.read_counts(str(prefix))
    assert counts == sample_counts()
    again = tmp_path / "again.txt"
    code, err = vocab_cli(capsys, f"--word_counts={prefix}", f"--output={again}", f"--vocab_size={SIZE}", "--quiet")
    assert code == 0, err
    assert again.read_bytes() == learned.read_bytes()
    code, err = vocab_cli(capsys, f"--word_counts={prefix}", f"--output={again}", f"--vocab_size={SIZE}",
                          "--no-lower")
    assert code == 1 and "were made with --lower" in err


@pytest.fixture
def kept_counts(tmp_path):
    prefix = tmp_path / "counts" / "en"
    prefix.parent.mkdir()
    code = cli.main(["vocab", f"--input_file={SAMPLE}", f"--output={tmp_path / 'v.txt'}", f"--vocab_size={SIZE}",
                     f"--keep_word_counts={prefix}", "--num_shards=4", "--quiet"])
    assert code == 0
    assert sorted(p.name for p in prefix.parent.iterdir()) == sorted(
        [f"en-0000{k}-of-00004.tsv" for k in range(4)] + ["en-summary.json"])     # no staging left
    return prefix


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-7], r"en-00001-of-00004.tsv is not the shard that was written \([0-9,]+ lines where "),
    (lambda data: data[:-2] + b"0\n", "its SHA-256 differs from the summary.s"),
    (lambda data: data.replace(b"\t1\n", b"\t2\n", 1), "its SHA-256 differs"),
    (lambda data: b"garbage\n" + data[data.index(b"\n") + 1:], "its SHA-256 differs"),
])
def test_a_damaged_count_shard_is_an_error_naming_it(capsys, kept_counts, tmp_path, damage, message):
    shard = kept_counts.parent / "en-00001-of-00004.tsv"
    shard.write_bytes(damage(shard.read_bytes()))
    code, err = vocab_cli(capsys, f"--word_counts={kept_counts}", f"--output={tmp_path / 'x.txt'}",
                          f"--vocab_size={SIZE}", "--quiet")
    assert code == 1 and len(err.splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "x.txt").exists()


def test_a_count_above_2_63_or_counts_without_totals_are_errors(capsys, kept_counts, tmp_path):
    import hashlib
    import json
    shard = kept_counts.parent / "en-00002-of-00004.tsv"
    summary_path = kept_counts.parent / "en-summary.json"
    summary = json.loads(summary_path.read_text())
    data = shard.read_bytes().replace(b"\t", b"\t" + str(1 << 63).encode() + b"0", 1)
    shard.write_bytes(data)
    summary["shards"][2] = wc.shard_totals(data)
    assert summary["shards"][2]["sha256"] == hashlib.sha256(data).hexdigest()
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(WptkError, match=r"en-00002-of-00004.tsv:1: expected word<TAB>count \(a count below 2\^63\)"):
        wc.read_counts(str(kept_counts))
    del summary["shards"]
    summary_path.write_text(json.dumps(summary))
    code, err = vocab_cli(capsys, f"--word_counts={kept_counts}", f"--output={tmp_path / 'x.txt'}",
                          f"--vocab_size={SIZE}", "--quiet")
    assert code == 1 and "records no totals to check the shards with" in err


def test_a_killed_counting_leaves_no_shards_and_the_next_one_cleans_up(tmp_path):
    """Shards get their names only when all are complete: what a killed job leaves is its staging directory,
    which the next job for the same prefix removes once its process is gone."""
    import json
    from wptk.files import host_tag
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    staging = tmp_path / ".en.wptk-staging-0123"
    staging.mkdir()
    (staging / "owner.json").write_text(json.dumps({"host": host_tag(), "pid": int(dead.stdout)}))
    (staging / "en-00000-of-00002.tsv").write_text("the\t5\n")
    proc = subprocess.run([sys.executable, "-m", "pipelines.word_count", f"--input_file={SAMPLE}",
                           f"--output={tmp_path / 'en'}", "--num_shards=2", "--runner=FnApiRunner"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en-00000-of-00002.tsv", "en-00001-of-00002.tsv",
                                                          "en-summary.json"]


def test_a_line_over_the_limit_is_an_error_in_counting(capsys, tmp_path):
    (tmp_path / "in.txt").write_bytes(b"hello\n" + b"word " * 300_000 + b"\n")
    code, err = vocab_cli(capsys, f"--input_file={tmp_path / 'in.txt'}", f"--output={tmp_path / 'v.txt'}",
                          f"--vocab_size={SIZE}", "--quiet", "--max_line_mb=1")
    assert code == 1 and err == (f"wptk vocab: error: {tmp_path / 'in.txt'}: the line at byte 6 is longer than "
                                 "--max_line_mb=1 MiB: split it, or raise the limit\n")
    assert not (tmp_path / "v.txt").exists()


# ------------------------------------------------------------------------------------------------- end to end


def test_vocab_feeds_create_pretraining_data(learned, tmp_path):
    from wptk.testing import read_pretraining_records
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # e.g. a case-mismatch warning
        tokenizer = wptk.FullTokenizer(str(learned), do_lower_case=True)
    out = tmp_path / "out.tfrecord"
    code = cli.main(["create-pretraining-data", f"--input_file={SAMPLE}", f"--output_file={out}",
                     f"--vocab_file={learned}", "--max_seq_length=64", "--max_predictions_per_seq=10",
                     "--dupe_factor=1", "--quiet"])
    assert code == 0
    records = read_pretraining_records([out], 64, 10)
    assert len(records) > 50
    unk = tokenizer.vocab["[UNK]"]
    for r in records[:20]:
        assert r["input_ids"][0] == 101 and 102 in r["input_ids"]
        assert max(r["input_ids"]) < SIZE
        masked = {p: i for p, i, w in zip(r["masked_lm_positions"], r["masked_lm_ids"], r["masked_lm_weights"]) if w}
        assert masked and all(0 <= i < SIZE and i != unk for i in masked.values())
        # a masked position may hold a random replacement, [UNK] included; the text itself never needs [UNK]
        assert all(i != unk for p, i in enumerate(r["input_ids"]) if p not in masked)


def test_multilingual_vocab(capsys, tmp_path):
    text = ("ภาษาไทยง่ายนิดเดียว ไปเที่ยวกันไหม\nᠮᠣᠩᠭᠣᠯ\u202fᠤᠨ ᠪᠢᠴᠢᠭ\nمی\u200cخواهم کتاب\n中文字 Ελληνικά ÅNGSTRÖM\n") * 3
    corpus = tmp_path / "m.txt"
    corpus.write_text(text, encoding="utf-8")
    out = tmp_path / "m_vocab.txt"
    code, err = vocab_cli(capsys, f"--input_file={corpus}", f"--output={out}", "--vocab_size=400",
                          "--multilingual", "--complete_alphabets=0")
    assert code == 0, err
    tokens = lines(out)
    assert len(tokens) == 400 and "\u200c" in tokens and "##\u200c" in tokens        # joiners are learned
    assert "Å" in tokens and "中" in tokens and "##中" not in tokens                   # cased; CJK isolated
    assert all(t == t.strip() for t in tokens)                 # U+202F cannot be a vocab line: left out
    tokenizer = wptk.FullTokenizer(str(out), multilingual=True)
    ids, _ = tokenizer.encode_batch(text.split("\n"))
    assert not (ids == tokenizer.vocab["[UNK]"]).any()
    code, err = vocab_cli(capsys, f"--input_file={corpus}", f"--output={out}", "--vocab_size=400",
                          "--multilingual", "--lower")
    assert code == 1 and "--multilingual keeps case" in err
    # by default, --multilingual also covers the unseen letters of the alphabets the corpus uses
    assert "\u0e0e" not in text and "\u0e0e" not in tokens
    code, err = vocab_cli(capsys, f"--input_file={corpus}", f"--output={out}", "--vocab_size=1200",
                          "--multilingual")
    assert code == 0, err
    assert "\u0e0e" in lines(out) and "##\u0e0e" in lines(out)


# ------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, message", [
    (["--input_file={d}/nothing*.txt"], "input file not found"),
    (["--input_file={d}/empty.txt"], "the input is empty"),
    (["--input_file={d}/blank.txt"], "the input has no words"),
    (["--input_file={d}/binary.bin"], "does not look like UTF-8 text"),
    (["--input_file={d}/cut.txt.gz", "--check_text=false"], "cut.txt.gz: Compressed file ended before the"),
    (["--vocab_size=50"], "too small for the 104 special tokens"),
    (["--vocab_size=130"], "is too small: the 104 special tokens and the"),
    (["--vocab_size=0"], "--vocab_size must be positive"),
    (["--min_count=0"], "--min_count must be >= 1"),
    (["--reserved_unused=-1"], "--reserved_unused must be >= 0"),
    (["--num_shards=0"], "--num_shards must be between 1 and 99999"),
    (["--input_split_mb=0"], "--input_split_mb must be positive"),
    (["--direct_num_workers=0"], "--direct_num_workers must be >= 1"),
    (["--runner=DataflowRunner"], "runs the counting on a local runner"),
    (["--output={d}/missing/v.txt"], "output directory does not exist"),
    (["--multilingual", "--lower"], "--multilingual keeps case"),
    (["--word_counts={d}/none", "--input_file="], "no word counts at"),
])
def test_bad_input_is_one_line_and_leaves_no_file(capsys, tmp_path, args, message):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n  \n\t\n\u200b\n", encoding="utf-8")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 64)
    whole = gzip.compress(SAMPLE.read_bytes())
    (tmp_path / "cut.txt.gz").write_bytes(whole[:len(whole) // 2])
    defaults = {"--input_file": f"--input_file={SAMPLE}", "--output": f"--output={tmp_path}/v.txt",
                "--vocab_size": f"--vocab_size={SIZE}"}
    given_args = [a.format(d=tmp_path) for a in args]
    for name, value in defaults.items():
        if not any(a.startswith(name + "=") for a in given_args):
            given_args.append(value)
    if any(a.startswith("--word_counts=") for a in given_args):
        given_args = [a for a in given_args if not a.startswith("--input_file")]
    code, err = vocab_cli(capsys, *given_args)
    assert code == 1, err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not [p.name for p in tmp_path.rglob("*v.txt*")]
