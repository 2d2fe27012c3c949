"""The Beam pipeline (pipelines/create_pretraining_data.py): document splitting, bucketing, byte-identical output
across runners, workers, file layouts and reruns, equivalence with `wptk create-pretraining-data` per bucket,
TensorFlow reading, and bad input."""
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from apache_beam.io.filesystem import FileMetadata  # noqa: E402
from apache_beam.io.localfilesystem import LocalFileSystem  # noqa: E402

from wptk import reader  # noqa: E402
from wptk.buckets import (bucket_lines, bucket_of, bucket_seed, document_digest, pack_documents,  # noqa: E402
                          unpack_documents)
from wptk.sentences import split_sentences  # noqa: E402
from wptk import pretraining as pt  # noqa: E402
from wptk.beam import create_pretraining_data as cpd  # noqa: E402
from wptk.beam import pretraining as transforms  # noqa: E402
from wptk.beam import workers  # noqa: E402
from wptk.errors import WptkError  # noqa: E402
from wptk.reader import Utf8Decoder  # noqa: E402
from wptk.testing import REPO_ROOT, limit_file_size, read_pretraining_records  # noqa: E402

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
FLAGS = ["--dupe_factor=2", "--max_seq_length=64", "--max_predictions_per_seq=10", "--random_seed=7", "--quiet"]
BUCKETS = 4


# ------------------------------------------------------------------------------------------------- corpus


def make_documents(n=64, seed=0):
    """Documents (lists of lines) from the sample's sentences, with some CRLF lines and non-ASCII text."""
    sentences = [s for s in SAMPLE.read_text(encoding="utf-8").split("\n") if s.strip()]
    rnd = random.Random(seed)
    docs = []
    for d in range(n):
        start = rnd.randrange(len(sentences))
        lines = sentences[start:start + rnd.randint(1, 25)]
        if d % 9 == 3:
            lines = [line + "\r" for line in lines]
        if d % 11 == 5:
            lines.append(f"Caf\u00e9 na\u00efve \u2014 \u65e5\u672c\u8a9e {d}\u3002")
        docs.append(lines)
    return docs


def corpus_text(docs, separator="\n\n"):
    return separator.join("\n".join(lines) for lines in docs) + "\n"


@pytest.fixture(scope="module")
def docs():
    return make_documents()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, docs):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_bytes(corpus_text(docs).encode("utf-8"))
    return path


def run(tmp_path, inputs, out="out", *extra):
    """Runs the pipeline in this process (FnApiRunner unless `extra` names a runner); returns (summary, dir)."""
    output_dir = tmp_path / out
    summary = cpd.run([f"--input_file={inputs}", f"--output_dir={output_dir}", f"--vocab_file={VOCAB}",
                       f"--num_buckets={BUCKETS}", *FLAGS, *extra])
    return summary, output_dir


def outputs(directory):
    return {p.name: p.read_bytes() for p in sorted(Path(directory).glob("train-*"))}


@pytest.fixture(scope="module")
def base(tmp_path_factory, corpus):
    """The reference run: one input file read in ~2 KB ranges (many splits), in-process FnApiRunner."""
    summary, directory = run(tmp_path_factory.mktemp("base"), corpus, "out", "--input_split_mb=0.002")
    return summary, directory, outputs(directory)


def pipeline_cli(*args, cwd=None, max_file_bytes=None):
    """(status, stdout, stderr) of the pipeline's command; `max_file_bytes` as for test_cli_tokenize.wptk."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data", *map(str, args)],
                          capture_output=True, cwd=cwd or REPO_ROOT, env=env, timeout=300,
                          preexec_fn=None if max_file_bytes is None else lambda: limit_file_size(max_file_bytes))
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


# ------------------------------------------------------------------------------------------------- splitting


def unsplit_documents(data):
    """Documents of a file's bytes, independently: lines on \\n, invalid UTF-8 dropped, blank = strip() empty."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    docs, current = [], []
    for raw in lines:
        text = raw.decode("utf-8", "ignore")
        if text.strip():
            current.append(text)
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs


def read_documents(f, start, stop, claim, decoder, path="", max_document_bytes=None):
    """(key, decoded lines) of the documents the byte range [start, stop) of `f` owns."""
    for key, raw in reader.range_documents(f, start, stop, claim, path, max_document_bytes):
        yield key, reader.document_lines(raw, decoder, path, key)


def split_documents(data, points):
    """The documents the ranges between `points` read, in range order; checks claims as a tracker would."""
    bounds = [0] + sorted(set(points) - {0, len(data)}) + [len(data)]
    found = []
    for start, stop in zip(bounds, bounds[1:]):
        last = []

        def claim(key, start=start, stop=stop, last=last):
            assert not last or key > last[-1], "claims must strictly increase"
            assert key >= start
            last.append(key)
            return key < stop

        found.extend(lines for _, lines in read_documents(io.BytesIO(data), start, stop, claim, Utf8Decoder()))
    return found


EDGE_FILES = [
    b"",
    b"\n",
    b"\n\n\n",
    b"one",
    b"one\ntwo",
    b"one\n\ntwo",
    b"one\n\n\n\ntwo\n",
    b"one\r\n\r\ntwo\r\nthree\r\n",
    b"\r\n\r\none\r\n",
    "caf\u00e9 \u65e5\u672c\n\n\u00e9\u00e9\u00e9\u00e9\n \n\u65e5\n".encode("utf-8"),
    "a\n\u3000\nb\n\x1c\nc\n\u2028x\n \t \nd".encode("utf-8"),
    b"a\n\xff\xfe\nb\n\xe2\x82\nc\xff\n\n\nd",
    b"\n\nlast line without newline",
    b"x" * 50 + b"\n\n" + b"y" * 50,
]


@pytest.mark.parametrize("data", EDGE_FILES)
def test_every_split_point_reads_every_document_once(data):
    expected = unsplit_documents(data)
    for point in range(len(data) + 1):
        assert split_documents(data, [point]) == expected, point
    every = list(range(len(data) + 1))
    assert split_documents(data, every) == expected


def test_random_files_and_split_sets():
    rnd = random.Random(5)
    pieces = ["a", "bb c", "\u00e9", "\u65e5\u672c\u8a9e", "\r", " ", "\t", "\u3000", "\x1c", "\udcff", "\u2028",
              "", "\x00"]
    for _ in range(400):
        lines = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4))) for _ in range(rnd.randint(0, 14))]
        data = "\n".join(lines).encode("utf-8", "surrogateescape") + (b"\n" if rnd.random() < 0.5 else b"")
        expected = unsplit_documents(data)
        for point in range(len(data) + 1):
            assert split_documents(data, [point]) == expected, (data, point)
        for _ in range(10):
            points = rnd.sample(range(len(data) + 1), min(len(data) + 1, rnd.randint(1, 8)))
            assert split_documents(data, points) == expected, (data, points)


def test_large_lines_are_read_across_chunks(monkeypatch):
    monkeypatch.setattr(reader, "READ_CHUNK", 7)
    data = ("\u00e9" * 40 + "\n" + "x" * 33 + "\n\n" + "y\r\n" * 5 + "\n\n\nz").encode("utf-8")
    expected = unsplit_documents(data)
    for point in range(len(data) + 1):
        assert split_documents(data, [point]) == expected


def _blank_lines_by_decoding(block):
    """The oracle: the lines of `block` (split on "\\n", none after a final one) that str.strip() leaves empty once
    decoded as the reference decodes (invalid UTF-8 dropped)."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    spans, start = [], 0
    for line in lines:
        if not line.decode("utf-8", "ignore").strip():
            spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def test_blank_lines_are_what_str_strip_leaves_empty():
    """The native scan agrees with decoding and str.strip() for every code point, alone, around a word, after
    spaces and next to invalid bytes; and on random lines of spaces, words and broken sequences."""
    from wptk._native.lines import blank_lines
    variants = []
    for cp in range(0x110000):
        if not 0xD800 <= cp < 0xE000:
            c = chr(cp).encode("utf-8")
            variants += [c, b" \t" + c + b"\r", c + b"\xff", b"\xe2\x80" + c, c[:-1] + b" " if len(c) > 1 else c]
    block = b"\n".join(variants)
    assert blank_lines(block) == _blank_lines_by_decoding(block)
    assert [chr(cp) for cp in range(0x3001, 0x110000) if chr(cp).isspace()] == []   # the scan's table ends there
    pieces = [b"\n", b" ", b"a", b"\t", b"\r", b"\x0b", b"\x1c", b"\x85", b"\xc2\x85", b"\xc2\xa0", b"\xe3\x80\x80",
              b"\xe1\x9a\x80", b"\xc2", b"\xe2\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\xf4\x90\x80\x80", b"\xff",
              b"\xc0\x80", b"\xc1\xa1", b"\xe0\x81\x81", b"\xe0\x80\xa0", b"\xf0\x80\x81\x81"]    # overlong forms
    rng = random.Random(5)
    for _ in range(20000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert blank_lines(block) == _blank_lines_by_decoding(block), block


def test_document_size_limit():
    data = b"a\n" * 100 + b"\n" + b"b\n"
    with pytest.raises(WptkError, match="larger than --max_document_mb"):
        list(read_documents(io.BytesIO(data), 0, len(data), lambda k: True, Utf8Decoder(), "f.txt", 150))
    line = b"x" * 5000
    with pytest.raises(WptkError, match="f.txt: the document at byte 0 is larger"):
        list(read_documents(io.BytesIO(line), 0, len(line), lambda k: True, Utf8Decoder(), "f.txt", 1000))
    assert len(list(read_documents(io.BytesIO(data), 0, len(data), lambda k: True, Utf8Decoder(), "f",
                                       300))) == 2


# ------------------------------------------------------------------------------------------------- sentences


@pytest.mark.parametrize("paragraph, sentences", [
    ("Mr. Smith came. He sat down! Did he? Yes.", ["Mr. Smith came.", "He sat down!", "Did he?", "Yes."]),
    ("Use tools, e.g. hammers, i.e. heavy ones. Fine.", ["Use tools, e.g. hammers, i.e. heavy ones.", "Fine."]),
    ("J. R. R. Tolkien wrote. The U.S. Army marched.", ["J. R. R. Tolkien wrote.", "The U.S. Army marched."]),
    ('"Really?" she asked. \u201cYes.\u201d He left.', ['"Really?" she asked.', "\u201cYes.\u201d", "He left."]),
    ("at 3 p.m. on Monday. Version 3.5 is out... Then more.",
     ["at 3 p.m. on Monday.", "Version 3.5 is out...", "Then more."]),
    ("\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u5427\uff01\u4f60\u6765\u5417\uff1f\u597d",
     ["\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002", "\u6211\u4eec\u53bb\u5427\uff01", "\u4f60\u6765\u5417\uff1f",
      "\u597d"]),
    ("\u092f\u0939 \u0939\u0948\u0964 \u0935\u0939 \u0939\u0948\u0965 \u0905\u0902\u0924",
     ["\u092f\u0939 \u0939\u0948\u0964", "\u0935\u0939 \u0939\u0948\u0965", "\u0905\u0902\u0924"]),
    ("\u0647\u0644 \u0623\u0646\u062a\u061f \u0646\u0639\u0645.", ["\u0647\u0644 \u0623\u0646\u062a\u061f",
                                                                  "\u0646\u0639\u0645."]),
    ("no punctuation at all", ["no punctuation at all"]),
    ("  spaced.   Out.  ", ["spaced.", "Out."]),
])
def test_split_sentences(paragraph, sentences):
    assert split_sentences(paragraph) == sentences


def test_split_sentences_flag(tmp_path):
    (tmp_path / "p.txt").write_text("One here. Two there! Three?\nFour.\n\nFive. Six.\n", encoding="utf-8")
    summary, _ = run(tmp_path, tmp_path / "p.txt", "out", "--split_sentences")
    assert summary["counts"]["documents"] == 2 and summary["counts"]["sentences"] == 6
    summary, _ = run(tmp_path, tmp_path / "p.txt", "out2")
    assert summary["counts"]["sentences"] == 3


# ------------------------------------------------------------------------------------------------- bucketing


def digest_of(seed, lines):
    """The documented document digest, computed here independently of the pipeline module."""
    return hashlib.blake2b(b"%d\n" % seed + "\n".join(lines).encode("utf-8"), digest_size=16).digest()


def documented_bucket_seed(seed, bucket):
    return int.from_bytes(hashlib.blake2b(b"wptk-bucket-seed:%d:%d" % (seed, bucket), digest_size=8).digest(),
                          "big") >> 1


def test_hash_and_seed_derivation_are_the_documented_ones():
    assert document_digest(7, b"a\nb") == digest_of(7, ["a", "b"])
    for n, text in enumerate(["a", "Hello.", "x\ny", "\u00e9\u6771"]):
        digest = digest_of(n, [text])
        for buckets in (7, 10, 16):
            assert bucket_of(digest, buckets) == int.from_bytes(digest[:8], "big") % buckets, (text, buckets)
    assert [bucket_seed(12345, k) for k in range(3)] == [documented_bucket_seed(12345, k) for k in range(3)]
    # pinned: changing the derivation changes every output file, so it must be deliberate
    assert bucket_seed(12345, 0) == 3293689750638862160
    assert digest_of(12345, ["Hello."]).hex()[:16] == "064ccd2f7d5ba185"


def test_batches_round_trip():
    items = [(bytes(range(16)), "x\ny".encode()), (b"\xff" * 16, b""), (b"\x00" * 16, "\u00e9".encode())]
    assert unpack_documents(pack_documents(items)) == items
    assert list(bucket_lines(items)) == ["\u00e9", "", "x", "y", "", "", ""]   # by digest, then text


# ------------------------------------------------------------------------------------------------- the job


def test_output_files_summary_and_metrics(base, docs):
    summary, directory, files = base
    names = [f"train-{k:05d}-of-{BUCKETS:05d}.tfrecord" for k in range(BUCKETS)]
    assert sorted(files) == names == summary["output_files"]
    assert sorted(p.name for p in directory.iterdir()) == sorted(names + ["summary.json"])
    on_disk = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    c, m = on_disk["counts"], on_disk["metrics"]
    assert c == summary["counts"] and m == summary["metrics"]
    assert all(m[name] == c[name] for name in transforms.BUCKET_COUNTS + transforms.READ_COUNTS)    # metrics == bucket counts
    assert m["bucket_documents"]["count"] == BUCKETS and m["bucket_documents"]["max"] == c["bucket_documents"]["max"]
    assert c["documents"] == c["text_documents"] == c["documents_read"] == len(docs)
    assert c["sentences"] == sum(len(d) for d in docs)
    assert c["instances"] > 300 and 0 < c["random_next"] < c["instances"] and c["masked_tokens"] > c["instances"]
    assert c["unk_tokens"] > 0 and c["tokens"] > c["unk_tokens"] and c["truncated"] > 0
    assert c["dropped_utf8_bytes"] == 0
    assert on_disk["flags"]["random_seed"] == 7 and on_disk["flags"]["num_buckets"] == BUCKETS
    assert on_disk["bucket_seeds"] == [documented_bucket_seed(7, k) for k in range(BUCKETS)]


def bucket_texts(docs, seed, buckets):
    """Each bucket's text file, computed here from the documented hash: its documents sorted by (digest, text),
    a blank line after each."""
    members = {k: [] for k in range(buckets)}
    for lines in docs:
        digest = digest_of(seed, lines)
        members[int.from_bytes(digest[:8], "big") % buckets].append((digest, "\n".join(lines).encode("utf-8")))
    return {k: b"".join(t + b"\n\n" for _, t in sorted(m)) for k, m in members.items()}


def assert_buckets_match_the_command(files, docs, tmp_path, *flags, buckets=BUCKETS, seed=7):
    """Bucket k == `wptk create-pretraining-data --random_seed=<bucket seed>` on the bucket's text file:
    byte-identical."""
    texts = bucket_texts(docs, seed, buckets)
    assert sum(1 for t in texts.values() if t) >= min(3, buckets)
    for k, text in texts.items():
        name = f"train-{k:05d}-of-{buckets:05d}.tfrecord"
        (tmp_path / f"bucket{k}.txt").write_bytes(text)
        out = tmp_path / f"bucket{k}.tfrecord"
        proc = subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data",
                               f"--input_file={tmp_path / f'bucket{k}.txt'}", f"--output_file={out}",
                               f"--vocab_file={VOCAB}", *FLAGS, *flags,
                               f"--random_seed={documented_bucket_seed(seed, k)}"], capture_output=True)
        if not text:
            assert proc.returncode == 1 and files[name] == b""
            continue
        assert proc.returncode == 0, proc.stderr.decode()
        assert out.read_bytes() == files[name], k


def test_each_bucket_is_what_the_command_writes_for_its_documents(base, docs, tmp_path):
    assert_buckets_match_the_command(base[2], docs, tmp_path)


def test_the_same_holds_with_whole_word_masking_and_multilingual_tokenization(docs, tmp_path):
    thai_chinese = "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u4f60\u597d"
    russian = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!"
    mixed = docs[:10] + [[thai_chinese, "Na\u00efve caf\u00e9."], [russian]]
    (tmp_path / "in.txt").write_text(corpus_text(mixed), encoding="utf-8")
    flags = ["--do_whole_word_mask", "--multilingual=true"]
    # 7 buckets: 256 % 7 != 1, so a byte-order slip in the bucket hash moves documents (with 3 it would not)
    _, directory = run(tmp_path, tmp_path / "in.txt", "out", *flags, "--num_buckets=7")
    assert_buckets_match_the_command(outputs(directory), mixed, tmp_path, *flags, buckets=7)


def test_same_bytes_for_other_file_layouts_compression_and_a_rerun(base, docs, tmp_path):
    _, _, expected = base
    shuffled = list(docs)
    random.Random(3).shuffle(shuffled)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "b.txt").write_bytes(corpus_text(shuffled[:20], "\n\n\n \n").encode("utf-8"))
    (parts / "a.txt.gz").write_bytes(gzip.compress(corpus_text(shuffled[20:45]).encode("utf-8")))
    (parts / "c.txt.bz2").write_bytes(bz2.compress(corpus_text(shuffled[45:]).encode("utf-8").rstrip(b"\n")))
    summary, directory = run(tmp_path, f"{parts}/c*,{parts}/[ab].*", "out", "--input_split_mb=0.001")
    assert summary["input"]["files"] == 3
    assert outputs(directory) == expected
    summary, directory = run(tmp_path, f"{parts}/c*,{parts}/[ab].*", "out", "--input_split_mb=0.001", "--overwrite")
    assert outputs(directory) == expected       # a rerun into the same directory


def test_same_bytes_with_two_worker_threads(base, corpus, tmp_path):
    _, _, expected = base
    summary, directory = run(tmp_path, corpus, "out", "--direct_running_mode=multi_threading",
                             "--direct_num_workers=2")
    assert "multi_threading, 2 workers" in summary["runner"]
    assert outputs(directory) == expected


def test_same_bytes_with_direct_runner_multi_processing(base, corpus, tmp_path):
    """Two worker processes (DirectRunner, multi_processing), from the command line, in another directory."""
    _, _, expected = base
    code, out, err = pipeline_cli(f"--input_file={corpus}", f"--output_dir={tmp_path / 'out'}",
                                  f"--vocab_file={VOCAB}", f"--num_buckets={BUCKETS}", *FLAGS[:-1],
                                  "--input_split_mb=0.004", "--runner=DirectRunner",
                                  "--direct_running_mode=multi_processing", "--direct_num_workers=2", cwd=tmp_path)
    assert code == 0, err
    assert "multi_processing, 2 workers" in out and "documents" in out
    assert err == ""        # the workers' Beam log lines are set aside
    assert outputs(tmp_path / "out") == expected


def test_dask_runner_on_a_local_cluster_of_two_processes(base, corpus, tmp_path):
    """A second real multi-process engine: Beam's DaskRunner on a dask.distributed LocalCluster (loopback)."""
    distributed = pytest.importorskip("dask.distributed", reason="pip install 'apache-beam[dask]' for this test")
    _, _, expected = base
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        summary, directory = run(tmp_path, corpus, "out", "--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
                                 f"--dask_client_address={cluster.scheduler_address}")
        with distributed.Client(cluster) as client:
            worker_pids = client.run(os.getpid)
    assert len(set(worker_pids.values()) - {os.getpid()}) == 2
    assert outputs(directory) == expected
    assert summary["metrics"] is None and summary["counts"]["dropped_utf8_bytes"] is None     # no metrics on Dask
    assert summary["counts"]["instances"] == base[0]["counts"]["instances"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, proc, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}: " + log.read_text(errors="replace")[-2000:])


def test_portable_runner_with_a_job_service_and_an_external_worker_pool(base, corpus, tmp_path):
    """The portable path Flink and Spark use: the Job API (Beam's local job service), artifact staging, and SDK
    workers started by a separate worker pool process (--environment_type=EXTERNAL), all on loopback."""
    _, _, expected = base
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    job_port, pool_port = free_port(), free_port()
    services = []
    try:
        for module, flag, port in (("apache_beam.runners.portability.local_job_service_main", "--port", job_port),
                                   ("apache_beam.runners.worker.worker_pool_main", "--service_port", pool_port)):
            log = tmp_path / f"{module.rsplit('.', 1)[1]}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen([sys.executable, "-m", module, f"{flag}={port}"], stdout=out,
                                        stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
            services.append(proc)
            wait_for_port(port, proc, log)
        summary, directory = run(tmp_path, corpus, "out", "--runner=PortableRunner",
                                 f"--job_endpoint=localhost:{job_port}", "--environment_type=EXTERNAL",
                                 f"--environment_config=localhost:{pool_port}")
    finally:
        for proc in services:
            proc.terminate()
        for proc in services:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert summary["runner"] == "PortableRunner"
    assert outputs(directory) == expected
    assert summary["metrics"]["instances"] == summary["counts"]["instances"] == base[0]["counts"]["instances"]


def test_gzip_output_is_read_by_tensorflow_as_run_pretraining_does(corpus, tmp_path):
    summary, directory = run(tmp_path, corpus, "out", "--gzip")
    files = sorted(directory.glob("train-*-of-*.tfrecord.gz"))
    assert len(files) == BUCKETS
    records = read_pretraining_records(files, 64, 10, gzip=True)
    c = summary["counts"]
    assert len(records) == c["instances"]
    vocab_size = len(VOCAB.read_text(encoding="utf-8").split("\n")) - 1
    masked = nsp = 0
    for r in records:
        n = sum(r["input_mask"])
        assert len(r["input_ids"]) == 64 and 5 <= n <= 64
        assert r["input_mask"] == [1] * n + [0] * (64 - n)
        assert all(0 <= t < vocab_size for t in r["input_ids"]) and r["input_ids"][n:] == [0] * (64 - n)
        assert set(r["segment_ids"]) <= {0, 1} and r["segment_ids"][n:] == [0] * (64 - n)
        k = int(sum(r["masked_lm_weights"]))
        assert r["masked_lm_weights"] == [1.0] * k + [0.0] * (10 - k) and 1 <= k <= 10
        assert all(0 < p < n for p in r["masked_lm_positions"][:k])
        assert all(0 <= t < vocab_size for t in r["masked_lm_ids"][:k])
        masked += k
        nsp += r["next_sentence_labels"][0]
    assert masked == c["masked_tokens"] and nsp == c["random_next"]
    assert 0.4 < nsp / len(records) < 0.6


def test_empty_buckets_get_empty_files(tmp_path):
    (tmp_path / "in.txt").write_text("It is a truth.\nUniversally acknowledged.\n\nA single man.\n",
                                     encoding="utf-8")
    summary, directory = run(tmp_path, tmp_path / "in.txt", "out", "--num_buckets=8", "--gzip")
    files = sorted(directory.glob("train-*"))
    assert [f.name for f in files] == [f"train-{k:05d}-of-00008.tfrecord.gz" for k in range(8)]
    empty = [f for f in files if gzip.decompress(f.read_bytes()) == b""]
    assert len(empty) >= 6 and summary["counts"]["bucket_documents"]["min"] == 0
    records = read_pretraining_records(files, 64, 10, gzip=True)
    assert len(records) == summary["counts"]["instances"] > 0


def test_a_worker_frees_its_word_cache_after_tokenizing_each_bucket(tmp_path, corpus, monkeypatch):
    """The tokenizer's word cache grows with the distinct words it has seen (up to ~40 MB). Freed after every
    bucket, as the command frees it after tokenizing, it leaves a worker's memory set by its bucket, not by the
    number of buckets the worker has tokenized, which grows with the corpus."""
    from wptk import pretraining
    from wptk.tokenization import FullTokenizer

    events = []
    tokenize, release = pretraining.documents_from_lines, FullTokenizer.release_memory
    monkeypatch.setattr(pretraining, "documents_from_lines",
                        lambda *args, **kwargs: events.append("tokenize") or tokenize(*args, **kwargs))
    monkeypatch.setattr(FullTokenizer, "release_memory", lambda self: events.append("free") or release(self))
    run(tmp_path, corpus)
    assert events == ["tokenize", "free"] * BUCKETS


# ------------------------------------------------------------------------------------------------- filesystems


class PrefixFileSystem(LocalFileSystem):
    """A Beam filesystem with scheme wptktest:// over a local directory, so that reading and writing go through
    FileSystems paths that are not local paths (as gs:// or s3:// would)."""

    ROOT = None
    PREFIX = "wptktest://"

    @classmethod
    def scheme(cls):
        return "wptktest"

    def _local(self, path):
        assert path.startswith(self.PREFIX), path
        return os.path.join(self.ROOT, path[len(self.PREFIX):])

    def _remote(self, local):
        return self.PREFIX + os.path.relpath(local, self.ROOT).replace(os.sep, "/")

    def join(self, base, *paths):
        return "/".join([base.rstrip("/")] + [p.strip("/") for p in paths])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def _url_dirname(self, path):
        return path.rpartition("/")[0]

    def has_dirs(self):
        return True

    def _list(self, prefix):
        root = self._local(prefix)
        for directory, _, names in os.walk(root):
            for name in names:
                local = os.path.join(directory, name)
                yield FileMetadata(self._remote(local), os.path.getsize(local), os.path.getmtime(local))

    def metadata(self, path):
        local = self._local(path)
        return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

    def mkdirs(self, path):
        os.makedirs(self._local(path), exist_ok=True)

    def create(self, path, *args, **kwargs):
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def copy(self, sources, destinations):
        return super().copy([self._local(p) for p in sources], [self._local(p) for p in destinations])

    def rename(self, sources, destinations):
        return super().rename([self._local(p) for p in sources], [self._local(p) for p in destinations])

    def exists(self, path):
        return os.path.exists(self._local(path))

    def size(self, path):
        return os.path.getsize(self._local(path))

    def last_updated(self, path):
        return os.path.getmtime(self._local(path))

    def checksum(self, path):
        return super().checksum(self._local(path))

    def delete(self, paths):
        for path in paths:
            local = self._local(path)
            if os.path.isdir(local):
                shutil.rmtree(local)
            else:
                os.remove(local)


def test_inputs_and_outputs_on_another_filesystem(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(PrefixFileSystem, "ROOT", str(tmp_path))
    (tmp_path / "in").mkdir()
    data = corpus.read_bytes()
    (tmp_path / "in" / "corpus.txt").write_bytes(data[: len(data) // 2])
    (tmp_path / "in" / "rest.txt.gz").write_bytes(gzip.compress(data[len(data) // 2:]))
    remote, _ = run(tmp_path, "wptktest://in/*", "unused", "--gzip", "--input_split_mb=0.01",
                    "--output_dir=wptktest://remote/out")
    local, _ = run(tmp_path, f"{tmp_path}/in/*", "local", "--gzip")
    assert remote["output_dir"] == "wptktest://remote/out"
    got = outputs(tmp_path / "remote" / "out")
    assert len(got) == BUCKETS and got == outputs(tmp_path / "local")
    assert remote["counts"] == local["counts"]
    assert json.loads((tmp_path / "remote" / "out" / "summary.json").read_text())["counts"] == remote["counts"]
    left = sorted(p.name for p in (tmp_path / "remote" / "out").rglob("*") if p.is_file())
    assert left == sorted(remote["output_files"] + ["summary.json"])   # no temporary or spill files left


# ------------------------------------------------------------------------------------------------- bad input


def test_local_progress_reads_the_shuffle_directory(tmp_path):
    shuffle = tmp_path / ".wptk-shuffle-x"
    assert cpd.local_progress(shuffle, 3_000_000, 4) == ""          # before the first spill
    shuffle.mkdir()
    (shuffle / "a.docs").write_bytes(b"x" * 1_000_000)
    (shuffle / "b.docs").write_bytes(b"x" * 500_000)
    (shuffle / ".stats-00001.json.tmp-1").write_text("{}")          # a bucket still being written
    assert cpd.local_progress(shuffle, 3_000_000, 4) == "read 1.5 of 3.0 MB, 0 of 4 buckets written"
    (shuffle / "c.docs").write_bytes(b"x" * 1_600_000)               # spill records are a little larger
    (shuffle / "stats-00001.json").write_text("{}")
    (shuffle / "stats-00003.json").write_text("{}")
    assert cpd.local_progress(shuffle, 3_000_000, 4) == "read 3.0 of 3.0 MB, 2 of 4 buckets written"


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


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_truncated_or_corrupt_compressed_input_is_an_error_not_a_shorter_corpus(tmp_path, docs, suffix, compress):
    """Beam's own reader ends a truncated .gz early without a word; the pipeline must not lose the rest silently."""
    whole = compress(corpus_text(docs).encode("utf-8"))
    (tmp_path / f"cut.txt{suffix}").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(WptkError, match=f"cannot read .*cut.txt{suffix}: Compressed file ended before the "
                                        "end-of-stream marker was reached"):
        run(tmp_path, tmp_path / f"cut.txt{suffix}", "out", "--check_text=false")
    (tmp_path / f"plain.txt{suffix}").write_bytes(corpus_text(docs).encode("utf-8"))
    with pytest.raises(WptkError, match=f"cannot read .*plain.txt{suffix}: "):
        run(tmp_path, tmp_path / f"plain.txt{suffix}", "out")
    assert not (tmp_path / "out").exists()


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


@pytest.mark.parametrize("split_mb", ["0", "0.002"])
def test_dropped_utf8_bytes_are_counted_as_the_command_counts_them(tmp_path, split_mb):
    """Blank lines too: a line of spaces and invalid bytes is blank, and its bytes are dropped all the same."""
    rnd = random.Random(3)
    lines = []
    for i in range(3000):
        kind = rnd.random()
        lines.append(b"" if kind < 0.2 else b" \xff\xfe " if kind < 0.3 else
                     bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 30))).replace(b"\n", b""))
    (tmp_path / "binary.txt").write_bytes(b"\n".join(lines) + b"\n")
    decoder = Utf8Decoder()
    from wptk.reader import read_lines
    list(read_lines(str(tmp_path / "binary.txt"), decoder))
    summary, _ = run(tmp_path, tmp_path / "binary.txt", "out", "--check_text=false", f"--input_split_mb={split_mb}")
    counts = summary["counts"]
    assert (counts["dropped_utf8_bytes"], counts["dropped_utf8_lines"]) == (decoder.dropped_bytes, decoder.bad_lines)
    (tmp_path / "blank.txt").write_bytes(b"The cat sat.\n\xff \nThe mat.\n")
    with pytest.raises(WptkError, match="blank.txt: the blank line at byte 13: invalid UTF-8"):
        run(tmp_path, tmp_path / "blank.txt", "strict", "--errors=strict")


def test_invalid_utf8_is_dropped_and_counted_as_the_reference_does(tmp_path, docs, capsys):
    text = corpus_text(docs[:10]).encode("utf-8")
    bad = text.replace(b"the ", b"th\xffe ", 5).replace(b"was", b"w\xe2\x82as", 3)
    assert len(bad) == len(text) + 5 + 6
    (tmp_path / "bad.txt").write_bytes(bad)
    (tmp_path / "good.txt").write_bytes(text)
    summary, out_bad = run(tmp_path, tmp_path / "bad.txt", "bad")
    assert "dropped 11 invalid UTF-8 byte(s)" in capsys.readouterr().err
    _, out_good = run(tmp_path, tmp_path / "good.txt", "good")
    assert summary["counts"]["dropped_utf8_bytes"] == 11 and summary["counts"]["dropped_utf8_lines"] >= 1
    assert outputs(out_bad) == outputs(out_good)
    with pytest.raises(WptkError, match=r"bad.txt: the document at byte [\d,]+: invalid UTF-8"):
        run(tmp_path, tmp_path / "bad.txt", "strict", "--errors=strict")
    assert not (tmp_path / "strict").exists()


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
    assert (args.do_lower_case, config.do_whole_word_mask, args.gzip, config.max_seq_length) == (False, True, True,
                                                                                                  32)
    assert args.split_sentences is True and args.overwrite is False and beam_argv == ["--runner=DirectRunner"]
    defaults, config, _ = cpd.parse_args(["--input_file=x", "--output_dir=y", "--vocab_file=v"])
    assert config == pt.PretrainingConfig() and defaults.do_lower_case and not defaults.gzip


def test_demo_runs_the_pipeline(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "wptk", "demo", "--output_dir", str(tmp_path / "demo")],
                          capture_output=True, cwd=tmp_path)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Beam pipeline on FnApiRunner" in out and "instances" in out and "train-00000-of-00003.tfrecord" in out
    assert "warning" not in proc.stderr.decode(), proc.stderr.decode()      # no empty bucket, no other surprise
    assert len(list((tmp_path / "demo").glob("train-*.tfrecord"))) == 3
    assert (tmp_path / "demo" / "summary.json").is_file()
    proc = subprocess.run([sys.executable, "-m", "wptk", "demo", "--output_dir", str(tmp_path / "demo")],
                          capture_output=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()


def test_a_program_skips_beams_ipython_probe(monkeypatch):
    from apache_beam.utils.interactive_utils import is_in_ipython
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    workers.skip_ipython_probe()
    assert sys.modules["IPython"] is None and is_in_ipython() is False
    inside = object()                       # inside IPython, IPython is imported already: it stays
    monkeypatch.setitem(sys.modules, "IPython", inside)
    workers.skip_ipython_probe()
    assert sys.modules["IPython"] is inside


# A stand-in for Beam's SDK worker process: its __main__ is the harness module, then `script` runs.
_FAKE_WORKER = """
import atexit, logging, sys, types
sys.modules["__main__"].__spec__ = types.SimpleNamespace(name="apache_beam.runners.worker.sdk_worker_main")
atexit.register(print, "teardown ran")      # registered first, so it runs after fast_worker_exit's hook
from wptk.beam import workers
assert workers.fast_worker_exit()
print("job output")
{script}
"""
_HARNESS_ENDS = 'logging.getLogger("__main__").warning("Python sdk harness exiting.")'


@pytest.mark.parametrize("script, status, teardown", [
    (_HARNESS_ENDS, 0, False),                              # a clean end: no teardown
    ("", 0, True),                                          # the harness did not log its end
    (_HARNESS_ENDS + "\nraise SystemError('late')", 1, True),   # a failure after it: the normal exit and status
])
def test_a_local_worker_exits_without_teardown_only_after_a_clean_harness(script, status, teardown):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), WPTK_FAST_WORKER_EXIT="1")
    proc = subprocess.run([sys.executable, "-c", _FAKE_WORKER.format(script=script)], capture_output=True, env=env,
                          cwd=REPO_ROOT)
    assert proc.returncode == status, proc.stderr.decode()
    out = proc.stdout.decode()
    assert out.startswith("job output\n")                  # flushed before exiting
    assert ("teardown ran" in out) == teardown


def test_a_program_exits_with_its_status_after_flushing_even_with_a_closed_stream():
    script = ("import sys\nfrom wptk.beam.workers import exit_program\nprint('summary', end='')\n"
              "sys.stderr.close()\nexit_program(3)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert (proc.returncode, proc.stdout) == (3, b"summary")


def test_fast_worker_exit_needs_a_worker_started_by_the_pipeline(monkeypatch):
    monkeypatch.setenv(workers.FAST_EXIT_ENV, "1")
    assert not workers.fast_worker_exit()            # pytest's __main__ is not the harness
    monkeypatch.delenv(workers.FAST_EXIT_ENV)
    harness = type("Spec", (), {"name": "apache_beam.runners.worker.sdk_worker_main"})()
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", harness, raising=False)
    assert not workers.fast_worker_exit()            # a harness the pipeline did not start


def test_local_workers_inherit_their_settings(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv(workers.FAST_EXIT_ENV, raising=False)
    workers.prepare_local_workers()
    workers.prepare_local_workers()
    assert os.environ["PYTHONPATH"] == os.pathsep.join([str(REPO_ROOT), "elsewhere"])
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ[workers.FAST_EXIT_ENV] == "1"
