"""The Beam pipeline's output: files, summary and metrics; each bucket byte for byte what `wptk
create-pretraining-data` writes for its documents; the same bytes across file layouts, compression, reruns, runners
and workers; records TensorFlow reads as run_pretraining.py does; `wptk demo`."""
import bz2
import gzip
import json
import os
import random
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from wptk.beam import pretraining as transforms  # noqa: E402
from wptk.beam.testing import (BUCKETS, FLAGS, VOCAB, corpus_text, digest_of, documented_bucket_seed,  # noqa: E402
                                outputs, pipeline_cli, run)
from wptk.testing import REPO_ROOT, read_pretraining_records  # noqa: E402


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
