"""wptk.tf.pretraining_dataset against a plain TFRecordDataset + parse_single_example reading of the same files."""
import collections
import shutil
import subprocess
import sys

import pytest

from wptk.testing import REPO_ROOT, read_pretraining_records, require_shared

tf = pytest.importorskip("tensorflow")
wtf = pytest.importorskip("wptk.tf")

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
SAMPLE_VOCAB = REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
NAMES = ["input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
         "next_sentence_labels"]


def make_records(outputs, *flags):
    subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={SAMPLE}",
                    f"--output_file={','.join(map(str, outputs))}", f"--vocab_file={SAMPLE_VOCAB}", "--quiet",
                    "--dupe_factor=1", *flags], check=True, cwd=REPO_ROOT)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """mixed/: five plain files and one GZIP file of 128-token records; short/: one file of 64-token records."""
    root = tmp_path_factory.mktemp("records")
    (root / "mixed").mkdir()
    (root / "short").mkdir()
    plain = [root / "mixed" / f"train-{i}.tfrecord" for i in range(5)]
    make_records(plain, "--random_seed=1")
    make_records([root / "mixed" / "train-5.tfrecord.gz"], "--random_seed=2", "--gzip")
    (root / "mixed" / "summary.json").write_text("{}")
    make_records([root / "short" / "short.tfrecord"], "--max_seq_length=64", "--max_predictions_per_seq=10")
    return root


def reference(files):
    """Each file's records as run_pretraining.py reads them, one key (bytes of all features) per record."""
    rows = []
    for f in files:
        rows += read_pretraining_records([f], 128, 20, gzip=str(f).endswith(".gz"))
    return rows


def rows_of(batches, names=NAMES):
    """The records of a sequence of batches as dicts of lists, in order."""
    rows = []
    for batch in batches:
        arrays = {k: batch[n].numpy() for k, n in zip(NAMES, names)}
        rows += [{k: a[i].tolist() for k, a in arrays.items()} for i in range(len(arrays["input_ids"]))]
    return rows


def key(row):
    return tuple(tuple(row[k]) for k in NAMES)


def mixed_files(data):
    return sorted((data / "mixed").glob("*.tfrecord*"))


def test_evaluation_mode_reads_every_record_in_order_with_run_pretraining_types(data):
    files = mixed_files(data)
    expected = reference(files)
    batches = list(wtf.pretraining_dataset(str(data / "mixed"), 7, training=False))
    assert rows_of(batches) == expected
    assert len(batches[-1]["input_ids"]) == (len(expected) % 7 or 7)     # the last batch is kept, smaller
    first = batches[0]
    assert {k: v.dtype for k, v in first.items()} == {n: tf.float32 if n == "masked_lm_weights" else tf.int32
                                                      for n in NAMES}
    assert first["input_ids"].shape == (7, 128) and first["masked_lm_positions"].shape == (7, 20)
    assert first["next_sentence_labels"].shape == (7, 1)


def test_paths_may_be_files_patterns_or_a_directory(data):
    files = mixed_files(data)
    by_list = rows_of(wtf.pretraining_dataset([files[5], files[0]], 16, training=False))
    assert by_list == reference([files[5], files[0]])
    by_glob = rows_of(wtf.pretraining_dataset(str(data / "mixed" / "train-[01].tfrecord"), 16, training=False))
    assert by_glob == reference(files[:2])


@pytest.mark.parametrize("case", ["austen_defaults", "austen_wwm", "bible_cased_512", "multilingual_wwm"])
def test_goldens_read_as_run_pretraining_reads_them(case):
    path = require_shared() / "golden" / "pretraining" / case / "expected.tfrecord"
    first = next(iter(wtf.pretraining_dataset(str(path), 4, training=False)))
    L, P = first["input_ids"].shape[1], first["masked_lm_positions"].shape[1]
    rows = rows_of(wtf.pretraining_dataset(str(path), 64, training=False))
    assert rows == read_pretraining_records([path], L, P)
    assert (L, P) == {"austen_defaults": (128, 20), "austen_wwm": (128, 20), "bible_cased_512": (512, 76),
                      "multilingual_wwm": (64, 10)}[case]


def test_training_mode_covers_every_record_once_per_epoch(data):
    expected = collections.Counter(key(r) for r in reference(mixed_files(data)))
    n = sum(expected.values())
    batch = 8
    batches = list(wtf.pretraining_dataset(str(data / "mixed"), batch, seed=3).take(-(-n // batch) + 2))
    assert all(len(b["input_ids"]) == batch for b in batches)       # complete batches only, across epochs
    rows = [key(r) for r in rows_of(batches)]
    assert collections.Counter(rows[:n]) == expected
    assert rows[:n] != [key(r) for r in reference(mixed_files(data))]      # shuffled


def test_same_seed_same_order_other_seed_other_order(data):
    def first(seed):
        return [key(r) for r in rows_of(wtf.pretraining_dataset(str(data / "mixed"), 16, seed=seed).take(3))]
    assert first(5) == first(5)
    assert first(5) != first(6)


def test_training_interleaves_all_files(data, monkeypatch):
    """With no record shuffle, the first records come one from each file: every file is open at once."""
    monkeypatch.setattr(wtf, "SHUFFLE_BUFFER", 1)
    files = mixed_files(data)
    source = {key(r): i for i, f in enumerate(files) for r in reference([f])}
    rows = rows_of(wtf.pretraining_dataset(str(data / "mixed"), len(files), seed=0).take(1))
    assert sorted(source[key(r)] for r in rows) == list(range(len(files)))


@pytest.mark.parametrize("which", ["files", "records"])
def test_replicas_partition_the_records(data, which):
    files = mixed_files(data) if which == "files" else mixed_files(data)[:1]
    expected = collections.Counter(key(r) for r in reference(files))
    shares = []
    for replica in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=replica,
                                             num_replicas_in_sync=2)
        batches = list(wtf.pretraining_dataset([str(f) for f in files], 8, training=False, input_context=context))
        assert max(len(b["input_ids"]) for b in batches) == 4                  # the per-replica batch
        shares.append(collections.Counter(key(r) for r in rows_of(batches)))
    assert shares[0] and shares[1]
    assert shares[0] + shares[1] == expected
    assert not set(shares[0]) & set(shares[1])


def test_v2_feature_names(data):
    v2 = ["input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions", "masked_lm_ids",
          "masked_lm_weights", "next_sentence_labels"]
    batches = list(wtf.pretraining_dataset(str(data / "mixed"), 32, training=False, feature_names="v2"))
    assert sorted(batches[0]) == sorted(v2)
    assert rows_of(batches, v2) == reference(mixed_files(data))


def test_shapes_come_from_the_records(data):
    rows = rows_of(wtf.pretraining_dataset(str(data / "short"), 8, training=False))
    assert rows == read_pretraining_records([data / "short" / "short.tfrecord"], 64, 10)


def test_bad_input_is_a_clear_error(data, tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match=r"a directory without record files"):
        wtf.pretraining_dataset(str(tmp_path), 8)
    with pytest.raises(ValueError, match=r"short\.tfrecord: records of max_seq_length 64, not 128 as asked"):
        wtf.pretraining_dataset(str(data / "short"), 8, max_seq_length=128)
    wtf.pretraining_dataset(str(data / "short"), 8, max_seq_length=64)
    text = tmp_path / "text.tfrecord"
    shutil.copy(SAMPLE, text)
    with pytest.raises(ValueError, match=r"text\.tfrecord: record 0: .*not TFRecord"):
        wtf.pretraining_dataset(str(text), 8)
    with pytest.raises(ValueError, match=r"different shapes: .*128.*train-0\.tfrecord.*64.*short\.tfrecord"):
        wtf.pretraining_dataset([str(data / "mixed"), str(data / "short")], 8)
    (tmp_path / "empty.tfrecord").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.tfrecord: no records"):
        wtf.pretraining_dataset(str(tmp_path / "empty.tfrecord"), 8)
    with pytest.raises(ValueError, match=r"feature_names"):
        wtf.pretraining_dataset(str(data / "short"), 8, feature_names="v3")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'masking'"):
        wtf.pretraining_dataset(str(data / "short"), 8, masking="whole_word")


def test_import_wptk_does_not_import_tensorflow():
    code = ("import sys, wptk, wptk.cli, wptk.inspection, wptk.pretraining, wptk.tfrecord; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT).returncode == 0
