"""wptk.formats: every registered output format round-trips through the library's writers and the readers."""
import io

import numpy as np
import pytest

import wptk
from wptk import formats, inspection
from wptk import pretraining as pt
from wptk.tfrecord import RecordWriter, is_gzip_file, read_records

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "##x", "."]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Documents, vocab ids, a config, its instances and their records' payloads in order (through
    pt.serialize, RecordWriter and read_records), on a small generated corpus."""
    tmp = tmp_path_factory.mktemp("formats")
    (tmp / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = wptk.FullTokenizer(str(tmp / "vocab.txt"))
    lines = [" ".join("abcd"[(d * s + k) % 4] + ("x" if k % 3 == 0 else "") for k in range(2 + s % 9))
             for d in range(40) for s in range(12)]
    docs = pt.documents_from_lines([line if i % 12 else "" for i, line in enumerate(lines)], tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    config = pt.PretrainingConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=15)
    instances = pt.create_instances(docs, vocab_ids, config)
    assert len(instances) > 2 * pt.INSTANCES_PER_BATCH     # several batches
    with RecordWriter(tmp / "all.tfrecord") as w:
        w.write_framed(pt.serialize(docs, instances, instances.order, vocab_ids, config))
    return docs, vocab_ids, config, instances, list(read_records(tmp / "all.tfrecord"))


def test_the_registry_names_todays_formats():
    assert {name: (f.name, f.suffix) for name, f in formats.FORMATS.items()} == {
        "tfrecord": ("tfrecord", ".tfrecord"), "tfrecord_gzip": ("tfrecord_gzip", ".tfrecord.gz")}
    assert formats.get("tfrecord") is formats.FORMATS["tfrecord"]
    assert formats.get(formats.FORMATS["tfrecord_gzip"]) is formats.FORMATS["tfrecord_gzip"]
    with pytest.raises(wptk.WptkError, match="unknown output format 'parquet': one of tfrecord, tfrecord_gzip"):
        formats.get("parquet")


@pytest.mark.parametrize("name", sorted(formats.FORMATS))
def test_each_format_round_trips_through_write_instances(made, tmp_path, name):
    """Three files of a format, written by write_instances and read back by wptk.tfrecord and by wptk inspect's
    reader: the records round-robin, compressed exactly when the format is."""
    docs, vocab_ids, config, instances, expected = made
    fmt = formats.get(name)
    paths = [tmp_path / f"part{k}{fmt.suffix}" for k in range(3)]
    pt.write_instances(docs, instances, paths, vocab_ids, config, output_format=name)
    for k, path in enumerate(paths):
        assert is_gzip_file(path) == (name == "tfrecord_gzip")
        assert list(read_records(path)) == expected[k::3]
    batches = list(inspection.read_batches([str(p) for p in paths]))
    ids = np.concatenate([b["input_ids"] for b in batches if b["file"] == str(paths[0])])
    want = pt.feature_arrays(docs, instances, instances.order[0::3], vocab_ids, config)[0]
    assert np.array_equal(ids, want)


@pytest.mark.parametrize("name", sorted(formats.FORMATS))
def test_a_format_writes_into_any_binary_file_object(made, tmp_path, name):
    """fmt.open over an in-memory file, fed by encoded_batches, gives the bytes of the file write_instances
    writes; closing the format's stream leaves the file object open."""
    docs, vocab_ids, config, instances, _ = made
    fmt = formats.get(name)
    raw = io.BytesIO()
    out = fmt.open(raw)
    for f, data in pt.encoded_batches(docs, instances, vocab_ids, config, fmt):
        assert f == 0
        out.write(data)
    out.close()
    assert not raw.closed
    path = tmp_path / f"one{fmt.suffix}"
    pt.write_instances(docs, instances, [path], vocab_ids, config, output_format=fmt)
    assert raw.getvalue() == path.read_bytes()


def test_gzip_is_the_shorthand_of_the_gzip_format(made, tmp_path):
    docs, vocab_ids, config, instances, _ = made
    pt.write_instances(docs, instances, [tmp_path / "a"], vocab_ids, config, gzip=True)
    pt.write_instances(docs, instances, [tmp_path / "b"], vocab_ids, config, output_format="tfrecord_gzip")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    with pytest.raises(ValueError, match="not both"):
        pt.write_instances(docs, instances, [tmp_path / "c"], vocab_ids, config, gzip=True, output_format="tfrecord")
    with pytest.raises(wptk.WptkError, match="unknown output format"):
        pt.write_instances(docs, instances, [tmp_path / "d"], vocab_ids, config, output_format="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
