"""Pretraining records as a TF2 input pipeline (needs TensorFlow: `pip install wptk[tf]`).

    import wptk.tf
    dataset = wptk.tf.pretraining_dataset("out/", batch_size=32)      # files, globs or an output directory
    for features in dataset.take(1):
        features["input_ids"]                                           # int32 [32, max_seq_length]

The batches are the feature dicts of BERT's run_pretraining.py (int64 features cast to int32, as it casts them),
or, with feature_names="v2", under TF Model Garden's names. `import wptk` never imports this module.
"""
import os

try:
    import tensorflow as tf
except ImportError as e:        # pragma: no cover - depends on the installation
    raise ImportError("wptk.tf needs TensorFlow: pip install 'wptk[tf]'") from e

from wptk.errors import WptkError
from wptk.inspection import FEATURES, record_files, record_shape
from wptk.tfrecord import is_gzip_file

__all__ = ["pretraining_dataset"]

SHUFFLE_BUFFER = 10_000     # records; run_pretraining.py shuffles 100, too few to mix files' neighbouring records
V2_NAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}   # Model Garden's, others unchanged
OVERRIDES = frozenset()     # settings a caller may change at load time (none yet: reserved for dynamic masking)


def pretraining_dataset(paths, batch_size, *, training=True, seed=0, input_context=None, feature_names="v1",
                        max_seq_length=None, **overrides):
    """A tf.data.Dataset of batches of pretraining records from `paths` (a file, a glob pattern, a directory of
    *.tfrecord / *.tfrecord.gz files, or a list of them); GZIP is detected per file.

    Sequence length and prediction count are read from the records (`max_seq_length`, if given, is checked
    against them). Training: files shuffled and interleaved all at once, records shuffled, repeated forever,
    incomplete batches dropped; deterministic for a seed. Evaluation (training=False): every record once, in file
    order, the last batch possibly smaller. With a tf.distribute.InputContext, `batch_size` is the global batch:
    each input pipeline reads its share of the files (of the records, when there are fewer files than
    pipelines) in batches of the per-replica size. Bad input is a ValueError (wptk.WptkError) naming the file.
    """
    unknown = sorted(set(overrides) - OVERRIDES)
    if unknown:
        raise TypeError(f"pretraining_dataset() got an unexpected keyword argument {unknown[0]!r}")
    if feature_names not in ("v1", "v2"):
        raise ValueError(f"feature_names must be 'v1' or 'v2', not {feature_names!r}")
    files = record_files([paths] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths])
    seq_length, predictions = _shape(files, max_seq_length)

    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        shards, shard = input_context.num_input_pipelines, input_context.input_pipeline_id
    else:
        shards, shard = 1, 0
    by_files = shards > 1 and len(files) >= shards
    if by_files:
        files = files[shard::shards]

    compression = ["GZIP" if is_gzip_file(f) else "" for f in files]
    records = tf.data.Dataset.from_tensor_slices((files, compression))
    if training:
        records = records.shuffle(len(files), seed=seed)
    records = records.interleave(lambda f, c: tf.data.TFRecordDataset(f, compression_type=c),
                                 cycle_length=len(files) if training else 1, block_length=1,
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shards > 1 and not by_files:
        records = records.shard(shards, shard)
    if training:
        records = records.shuffle(SHUFFLE_BUFFER, seed=seed + 1).repeat()
    spec = _spec(seq_length, predictions)
    names = V2_NAMES if feature_names == "v2" else {}

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        return {names.get(k, k): tf.cast(parsed[k], tf.int32) if parsed[k].dtype == tf.int64 else parsed[k]
                for k in FEATURES}

    return (records.batch(batch_size, drop_remainder=training)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def _shape(files, expected_seq_length):
    """(max_seq_length, max_predictions_per_seq) shared by the files' records; WptkError when they differ, when
    they are not what the caller expects, or when no file holds a record."""
    shapes = {}
    for path in files:
        shape = record_shape(path)
        if shape is not None:
            shapes.setdefault(shape, []).append(path)
    if not shapes:
        raise WptkError(f"{files[0]}: no records" if len(files) == 1 else
                        f"no records in any of {len(files)} files ({files[0]}, ...)")
    if len(shapes) > 1:
        raise WptkError("records of different shapes: " + "; ".join(
            f"max_seq_length {L}, max_predictions_per_seq {P} in {', '.join(paths)}"
            for (L, P), paths in shapes.items()) + ": read one set at a time")
    (shape, paths), = shapes.items()
    if expected_seq_length is not None and shape[0] != expected_seq_length:
        raise WptkError(f"{paths[0]}: records of max_seq_length {shape[0]}, not {expected_seq_length} as asked")
    return shape


def _spec(seq_length, predictions):
    """run_pretraining.py's feature spec for these lengths."""
    widths = {"masked_lm_positions": predictions, "masked_lm_ids": predictions, "masked_lm_weights": predictions,
              "next_sentence_labels": 1}
    return {name: tf.io.FixedLenFeature([widths.get(name, seq_length)],
                                        tf.float32 if name == "masked_lm_weights" else tf.int64)
            for name in FEATURES}
