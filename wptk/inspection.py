"""Looking at BERT pretraining records without TensorFlow: decode them, and profile what they hold.

    batches = read_batches(["out/"])                    # files, globs or directories; GZIP detected
    profile = Profile(vocab)                            # vocab (token -> id) optional: tokens, [UNK], [MASK]
    for batch in batches:
        profile.add(batch)
    print(profile.text())

A batch is a dict of numpy rows per feature (input_ids, input_mask, segment_ids, masked_lm_positions,
masked_lm_ids, masked_lm_weights, next_sentence_labels: what run_pretraining.py reads), decoded natively
(wptk._native.examples) from the TFRecord frames (wptk._native.records.split_frames, CRCs checked).
"""
import collections
import contextlib
import glob
import gzip
import os

import numpy as np

from wptk._native.examples import decode_examples, describe_example
from wptk._native.records import split_frames
from wptk.errors import WptkError
from wptk.tfrecord import is_gzip_file
from wptk.vocab import MASK, UNK

FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
            "next_sentence_labels")       # the reference's order, as its log shows them
CHUNK_BYTES = 32 << 20


def record_files(paths):
    """The record files of files, glob patterns or directories (their *.tfrecord and *.tfrecord.gz files), each
    pattern's and directory's files sorted; WptkError when a path names nothing."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(p for p in glob.glob(os.path.join(glob.escape(path), "*.tfrecord*")) if os.path.isfile(p))
            if not found:
                raise WptkError(f"{path}: a directory without record files (*.tfrecord, *.tfrecord.gz)")
        elif os.path.lexists(path):
            found = [path]
        else:
            found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
            if not found:
                raise WptkError(f"no such file: {path}")
        files.extend(found)
    return files


def read_batches(paths):
    """Batches of decoded records (dicts of numpy rows per feature, plus "file" and "first", the number of its
    first record in the file), file after file, a chunk of about CHUNK_BYTES at a time. A file that is not
    TFRecord, a truncated record, a CRC mismatch or a record unlike the first is a WptkError naming the file and
    the record."""
    for path in record_files(paths):
        yield from _file_batches(path)


def record_shape(path):
    """(max_seq_length, max_predictions_per_seq) of a file of pretraining records, read from its first records
    alone; None for a file without records. Errors as read_batches."""
    with contextlib.closing(_file_batches(path, 1 << 16)) as batches:
        batch = next(batches, None)
    return None if batch is None else (batch["input_ids"].shape[1], batch["masked_lm_positions"].shape[1])


def _schema(payload, where):
    """(names, kinds, widths) of the features of the first record; WptkError if it is not pretraining data."""
    try:
        described = describe_example(payload)
    except ValueError:
        raise WptkError(f"{where}: not a tf.train.Example: is this a TFRecord file of pretraining data?") from None
    found = {name: (kind, count) for name, kind, count in described}
    missing = [name for name in FEATURES if name not in found]
    if missing:
        raise WptkError(f"{where}: not BERT pretraining data (no feature {', '.join(missing)})")
    return FEATURES, [found[n][0] for n in FEATURES], [found[n][1] for n in FEATURES]


def _file_batches(path, chunk_bytes=CHUNK_BYTES):
    opener = gzip.open if is_gzip_file(path) else open
    schema = None
    record = 0
    rest = b""
    try:
        with opener(path, "rb") as f:
            while True:
                chunk = f.read(chunk_bytes)
                data = rest + chunk if rest else chunk
                if not data:
                    return
                offsets, lengths, used, problem = split_frames(data)
                if problem is not None:
                    what, index, _ = problem
                    raise WptkError(f"{path}: record {record + index}: {what}: the file is corrupt or not TFRecord")
                if not chunk:
                    raise WptkError(f"{path}: record {record}: truncated (the file ends inside it)")
                if len(offsets):
                    if schema is None:
                        schema = _schema(data[offsets[0]:offsets[0] + lengths[0]], f"{path}: record 0")
                    arrays, fault = decode_examples(data, offsets, lengths, *schema)
                    if fault is not None:
                        raise WptkError(f"{path}: record {record + fault[0]} {fault[1]}")
                    arrays.update(file=path, first=record)
                    yield arrays
                    record += len(offsets)
                rest = data[used:]
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise WptkError(f"{path}: record {record}: cannot read: {getattr(e, 'strerror', None) or e}") from None


def example_text(batch, row, inv_vocab=None):
    """Record `row` of a batch as the reference logs an example: its tokens (with a vocab), then each feature."""
    lines = ["*** Example ***"]
    if inv_vocab is not None:
        n = int(batch["input_mask"][row].sum())
        lines.append("tokens: " + " ".join(inv_vocab.get(int(i), f"<{i}>") for i in batch["input_ids"][row, :n]))
    for name in FEATURES:
        values = batch[name][row]
        lines.append(f"{name}: " + " ".join(str(float(v)) if values.dtype.kind == "f" else str(int(v)) for v in values))
    return "\n".join(lines)


class Profile:
    """Figures of a set of pretraining records, added a batch at a time. With a vocab (token -> id), [UNK] and
    [MASK] are known by id; without one, [MASK] is taken to be the id most often found at masked positions."""

    def __init__(self, vocab=None, masked_lm_prob=0.15):
        self.vocab, self.masked_lm_prob = vocab, masked_lm_prob
        self.records = 0
        self.files = []
        self.seq_length = self.max_predictions = None
        self.lengths = None             # histogram of real tokens per record
        self.masked = None              # histogram of masked positions per record
        self.masked_by_length = None    # masked positions summed per record length
        self.capped = 0                 # records whose masks max_predictions_per_seq cut short
        self.random_next = 0
        self.at_masked = collections.Counter()      # input id at a masked position where it differs from the label
        self.kept = 0                   # masked positions holding their original token
        self.unk_neighbours = collections.Counter()
        self.unk = 0
        self.max_id = -1

    def add(self, batch):
        ids, mask = batch["input_ids"], batch["input_mask"]
        positions, labels, weights = batch["masked_lm_positions"], batch["masked_lm_ids"], batch["masked_lm_weights"]
        n, L = ids.shape
        P = positions.shape[1]
        if self.seq_length is None:
            self.seq_length, self.max_predictions = L, P
            self.lengths, self.masked = np.zeros(L + 1, np.int64), np.zeros(P + 1, np.int64)
            self.masked_by_length = np.zeros(L + 1, np.int64)
        elif (L, P) != (self.seq_length, self.max_predictions):
            raise WptkError(f"{batch['file']}: max_seq_length {L} and max_predictions_per_seq {P}, unlike the files "
                            f"before ({self.seq_length}, {self.max_predictions}): inspect one set at a time")
        if batch["file"] not in self.files:
            self.files.append(batch["file"])
        self.records += n
        length = mask.sum(axis=1)
        count = (weights > 0).sum(axis=1)
        self.lengths += np.bincount(length, minlength=L + 1)
        self.masked += np.bincount(count, minlength=P + 1)
        self.masked_by_length += np.bincount(length, weights=count, minlength=L + 1).astype(np.int64)
        wanted = np.maximum(1, np.rint(length * self.masked_lm_prob))   # the reference's round(): half to even
        self.capped += int(((count == P) & (wanted > P)).sum())
        self.random_next += int(batch["next_sentence_labels"].sum())
        self.max_id = max(self.max_id, int(ids.max(initial=-1)), int(labels.max(initial=-1)))
        real = weights > 0
        shown = np.take_along_axis(ids, positions, axis=1)[real]
        original = labels[real]
        self.kept += int((shown == original).sum())
        self.at_masked.update(shown[shown != original].tolist())
        unk_id = self.vocab.get(UNK) if self.vocab else None
        if unk_id is not None:
            originals = ids.copy()
            np.put_along_axis(originals, positions, np.where(real, labels, np.take_along_axis(ids, positions, 1)), 1)
            at = np.nonzero((originals == unk_id) & (mask > 0))
            self.unk += len(at[0])
            for shift in (-1, 1):
                cols = at[1] + shift
                inside = (cols >= 0) & (cols < L)
                self.unk_neighbours.update(originals[at[0][inside], cols[inside]].tolist())

    # -- figures ----------------------------------------------------------------------------------------------
    def figures(self):
        """The profile as a dict (what --json prints)."""
        if not self.records:
            return {"records": 0, "files": self.files}
        L, P = self.seq_length, self.max_predictions
        tokens = int((self.lengths * np.arange(L + 1)).sum())
        masked = int((self.masked * np.arange(P + 1)).sum())
        mask_id, inferred = self._mask_id()
        replaced = sum(self.at_masked.values())
        as_mask = self.at_masked.get(mask_id, 0) if mask_id is not None else 0
        out = {
            "files": self.files, "records": self.records, "max_seq_length": L, "max_predictions_per_seq": P,
            "tokens": tokens, "mean_length": tokens / self.records, "padding_share": 1 - tokens / (self.records * L),
            "length_histogram": self.lengths.tolist(),
            "masked_tokens": masked, "masked_share": masked / tokens, "recipe_masked_lm_prob": self.masked_lm_prob,
            "masked_histogram": self.masked.tolist(), "masked_by_length": self.masked_by_length.tolist(),
            "capped_share": self.capped / self.records,
            "mask_split": {"mask": as_mask / masked if masked else 0.0,
                           "kept": self.kept / masked if masked else 0.0,
                           "random": (replaced - as_mask) / masked if masked else 0.0},
            "mask_id": mask_id, "mask_id_inferred": inferred,
            "random_next_share": self.random_next / self.records,
        }
        if self.vocab:
            inv = {i: t for t, i in self.vocab.items()}
            out["unk_share"] = self.unk / tokens
            out["next_to_unk"] = [[inv.get(i, str(i)), n] for i, n in self.unk_neighbours.most_common(10)]
            out["ids_beyond_vocab"] = self.max_id >= len(self.vocab)
        return out

    def _mask_id(self):
        if self.vocab and MASK in self.vocab:
            return self.vocab[MASK], False
        common = self.at_masked.most_common(1)
        return (common[0][0], True) if common else (None, True)

    def text(self):
        """The profile for a terminal."""
        f = self.figures()
        if not f["records"]:
            return "no records"
        split = f["mask_split"]
        lines = [
            f"{f['records']:,} records in {len(f['files'])} file(s); max_seq_length {f['max_seq_length']}, "
            f"max_predictions_per_seq {f['max_predictions_per_seq']}",
            f"length: mean {f['mean_length']:.1f} tokens; padding {100 * f['padding_share']:.1f}% of positions",
            "  " + _histogram(f["length_histogram"], f["max_seq_length"]),
            f"masked: {100 * f['masked_share']:.2f}% of real tokens (recipe {100 * f['recipe_masked_lm_prob']:g}%); "
            f"max_predictions_per_seq cut the masks short in {100 * f['capped_share']:.1f}% of records",
            f"  replaced by [MASK] {100 * split['mask']:.1f}%, kept {100 * split['kept']:.1f}%, random "
            f"{100 * split['random']:.1f}% (recipe 80/10/10"
            + (f"; [MASK] taken to be id {f['mask_id']}, the most common there)" if f["mask_id_inferred"] else ")"),
            f"pairs: {100 * f['random_next_share']:.1f}% random next (label 1), "
            f"{100 * (1 - f['random_next_share']):.1f}% actual next",
        ]
        if "unk_share" in f:
            lines.append(f"[UNK]: {100 * f['unk_share']:.3f}% of real tokens"
                         + (f"; most often next to it: {', '.join(f'{t} ({n})' for t, n in f['next_to_unk'])}"
                            if f["next_to_unk"] else ""))
        return "\n".join(lines)


def _histogram(counts, top, bins=8):
    """Counts per length range, as a one-line summary."""
    edges = np.linspace(0, top, bins + 1).round().astype(int)
    counts = np.asarray(counts)
    parts = [f"{a + (k > 0)}-{b}: {int(counts[a + (k > 0):b + 1].sum()):,}" for k, (a, b) in
             enumerate(zip(edges[:-1], edges[1:]))]
    return "lengths " + ", ".join(parts)
