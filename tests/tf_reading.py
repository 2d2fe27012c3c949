"""Reading pretraining TFRecords with TensorFlow exactly as BERT's run_pretraining.py does."""
import pytest


def read_pretraining_records(paths, max_seq_length, max_predictions_per_seq, gzip=False):
    """All records of `paths` (in file order) as dicts of Python lists, parsed with run_pretraining's spec."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is needed to read TFRecords as run_pretraining.py")
    spec = {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    dataset = tf.data.TFRecordDataset([str(p) for p in paths], compression_type="GZIP" if gzip else "")
    dataset = dataset.map(lambda record: tf.io.parse_single_example(record, spec))
    return [{k: v.numpy().tolist() for k, v in example.items()} for example in dataset]
