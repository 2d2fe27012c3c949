"""`wptk inspect` and wptk.inspection: records decoded without TensorFlow as TensorFlow decodes them, the tokens
the reference logged, profile figures computed independently, and one-line errors for bad files."""
import collections
import gzip
import json
import tempfile

import pytest

import wptk
from wptk.inspection import FEATURES, Profile, example_text, read_batches
from wptk.testing import (case_flags, golden_cases, read_pretraining_records, reference_instances,
                          reference_pretraining_module, reference_tokenizer, run_wptk)


def decoded(paths):
    """All records of `paths` decoded by wptk, as dicts of Python lists (as read_pretraining_records returns them)."""
    rows = []
    for batch in read_batches([str(p) for p in paths]):
        for r in range(len(batch["input_ids"])):
            rows.append({name: batch[name][r].tolist() for name in FEATURES})
    return rows


@pytest.mark.parametrize("case", golden_cases())
def test_golden_records_decode_as_tensorflow_decodes_them(case):
    root, _, _, seq, pred = case_flags(case)
    assert decoded([root / "expected.tfrecord"]) == read_pretraining_records([root / "expected.tfrecord"], seq, pred)


def test_examples_show_the_tokens_the_reference_logged():
    """The reference logs `tokens: ...` of its first instances; the golden case's records are those instances."""
    ref = reference_pretraining_module()
    root, _, vocab_file, seq, pred = case_flags("austen_defaults")
    config = wptk.pretraining.PretrainingConfig(max_seq_length=seq, max_predictions_per_seq=pred, dupe_factor=1)
    text = (root / "input.txt").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/in.txt"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text[:20000])
        instances = reference_instances(ref, reference_tokenizer(vocab_file, True), path, config)
        out = f"{tmp}/ref.tfrecord"
        ref.write_instance_to_example_files(instances, reference_tokenizer(vocab_file, True), seq, pred, [out])
        vocab = wptk.load_vocab(str(vocab_file))
        inv = {i: t for t, i in vocab.items()}
        batch = next(read_batches([out]))
        for row, instance in enumerate(instances[:20]):
            lines = example_text(batch, row, inv).split("\n")
            assert lines[0] == "*** Example ***"
            assert lines[1] == "tokens: " + " ".join(instance.tokens)
            assert lines[4] == "segment_ids: " + " ".join(map(str, list(instance.segment_ids) +
                                                               [0] * (seq - len(instance.segment_ids))))


def independent_figures(rows, vocab, prob=0.15):
    """The profile's figures from TensorFlow-decoded rows, with plain Python loops."""
    mask_id, unk_id = vocab["[MASK]"], vocab["[UNK]"]
    tokens = masked = capped = random_next = as_mask = kept = unk = 0
    neighbours = collections.Counter()
    for r in rows:
        n = sum(r["input_mask"])
        count = sum(1 for w in r["masked_lm_weights"] if w > 0)
        tokens += n
        masked += count
        want = max(1, round(n * prob))
        capped += count == len(r["masked_lm_positions"]) and want > count
        random_next += r["next_sentence_labels"][0]
        original = list(r["input_ids"])
        for k in range(count):
            pos, label = r["masked_lm_positions"][k], r["masked_lm_ids"][k]
            as_mask += r["input_ids"][pos] == mask_id
            kept += r["input_ids"][pos] == label
            original[pos] = label
        for i in range(n):
            if original[i] == unk_id:
                unk += 1
                neighbours.update(original[j] for j in (i - 1, i + 1) if 0 <= j < len(original))
    return {"records": len(rows), "tokens": tokens, "masked_share": masked / tokens, "capped_share": capped / len(rows),
            "random_next_share": random_next / len(rows), "mask": as_mask / masked, "kept": kept / masked,
            "unk": unk, "neighbours": neighbours}


@pytest.mark.parametrize("case", ["bible_cased_512", "multilingual_wwm"])
def test_profile_figures_equal_independent_counts(case):
    root, _, vocab_file, seq, pred = case_flags(case)
    rows = read_pretraining_records([root / "expected.tfrecord"], seq, pred)
    vocab = wptk.load_vocab(str(vocab_file))
    profile = Profile(vocab)
    for batch in read_batches([str(root / "expected.tfrecord")]):
        profile.add(batch)
    f = profile.figures()
    want = independent_figures(rows, vocab)
    assert (f["records"], f["tokens"]) == (want["records"], want["tokens"])
    for key in ("masked_share", "capped_share", "random_next_share"):
        assert f[key] == pytest.approx(want[key], abs=1e-12), key
    assert f["mask_split"]["mask"] == pytest.approx(want["mask"]) and f["mask_split"]["kept"] == pytest.approx(
        want["kept"])
    assert f["unk_share"] == pytest.approx(want["unk"] / want["tokens"])
    inv = {i: t for t, i in vocab.items()}
    assert f["next_to_unk"] == [[inv[i], n] for i, n in want["neighbours"].most_common(10)]
    assert f["mask_id_inferred"] is False
    assert Profile().figures()["records"] == 0


def test_without_a_vocab_mask_is_inferred():
    root, _, vocab_file, _, _ = case_flags("austen_defaults")
    profile = Profile()
    for batch in read_batches([str(root)]):     # a directory: its record files
        profile.add(batch)
    f = profile.figures()
    assert f["mask_id"] == wptk.load_vocab(str(vocab_file))["[MASK]"] and f["mask_id_inferred"]


@pytest.fixture
def records(tmp_path):
    """A small valid file (from a golden case), and its bytes."""
    root, _, _, _, _ = case_flags("austen_defaults")
    data = (root / "expected.tfrecord").read_bytes()
    path = tmp_path / "r.tfrecord"
    path.write_bytes(data)
    return path, data


def one_line_error(args, message):
    code, _, err = run_wptk("inspect", *map(str, args))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert message in err, err


def test_bad_files_are_one_line_errors_naming_file_and_record(tmp_path, records):
    path, data = records
    bad = tmp_path / "notes.txt"
    bad.write_text("not records at all\n" * 10, encoding="utf-8")
    one_line_error([bad], f"{bad}: record 0: ")
    frames = []                                  # the byte offset of each frame
    at = 0
    while at < len(data):
        frames.append(at)
        at += 16 + int.from_bytes(data[at:at + 8], "little")
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(data[:frames[7] + 30])
    one_line_error([cut], f"{cut}: record 7: truncated")
    flipped = bytearray(data)
    flipped[frames[5] + 40] ^= 0x10
    crc = tmp_path / "crc.tfrecord"
    crc.write_bytes(bytes(flipped))
    one_line_error([crc], f"{crc}: record 5: corrupted data (CRC mismatch)")
    small = tmp_path / "small_vocab.txt"
    small.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", encoding="utf-8")
    one_line_error([path, "--vocab", small], "beyond the 5 entries of")
    one_line_error([tmp_path / "nothing*.tfrecord"], "no such file")


def test_gzip_and_several_files_are_read_and_counted(tmp_path, records):
    path, data = records
    (tmp_path / "r.tfrecord.gz").write_bytes(gzip.compress(data))
    code, out, err = run_wptk("inspect", str(path), str(tmp_path / "r.tfrecord.gz"), "--json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["records"] == 2 * 1361 and len(figures["files"]) == 2
    assert {"padding_share", "masked_share", "capped_share", "random_next_share", "mask_split"} <= set(figures)


def test_examples_and_report(tmp_path, records):
    pytest.importorskip("matplotlib")
    path, _ = records
    root, _, vocab_file, _, _ = case_flags("austen_defaults")
    code, out, err = run_wptk("inspect", str(path), "--vocab", str(vocab_file), "--examples", "3", "--report",
                              str(tmp_path / "report.html"))
    assert code == 0, err
    assert out.count("*** Example ***") == 3 and "tokens: [CLS] " in out and "random next" in out
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 3 and "<script" not in page
