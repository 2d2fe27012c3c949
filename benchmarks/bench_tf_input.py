"""wptk.tf.pretraining_dataset throughput on one core, against a plain TFRecordDataset + parse_single_example
reading of the same static records (what run_pretraining.py does, minus its TF1-only calls).

    python benchmarks/bench_tf_input.py [--core N] [--batch_size 32] [--records DIR]

Records: by default `wptk create-pretraining-data` makes them from ../shared/data/corpus/en/austen.txt
(bert-base-uncased vocab, default flags but --dupe_factor=2, four files), or from the bundled sample without the
shared data; --records reads a directory of yours. The process pins itself to one core and TensorFlow to one
intra-op and one inter-op thread. Both readers go through every record once in file order (evaluation mode: the
same work), best of three passes after a warm-up pass; wptk's training mode (interleave and shuffle) is timed too.
Printed: examples/s of each and the ratio wptk / plain.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from common import REPO_ROOT, OtherCpu, cpu_model, version
from wptk.testing import shared_data


def make_records(out_dir):
    shared = shared_data()
    if shared is not None:
        text, vocab = shared / "corpus" / "en" / "austen.txt", shared / "vocab" / "bert-base-uncased.vocab.txt"
    else:
        text, vocab = REPO_ROOT / "wptk" / "data" / "sample.txt", REPO_ROOT / "wptk" / "data" / "sample_vocab.txt"
    outputs = ",".join(os.path.join(out_dir, f"train-{i}-of-4.tfrecord") for i in range(4))
    subprocess.run([sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={text}",
                    f"--output_file={outputs}", f"--vocab_file={vocab}", "--dupe_factor=2", "--quiet"],
                   check=True, cwd=REPO_ROOT)
    return f"{text.name} (vocab {vocab.name})"


def rate(make_dataset, batches=None):
    """Examples per second of the best of three passes (after one warm-up) over `batches` batches (all when None)."""
    best = 0.0
    for attempt in range(4):
        dataset = make_dataset()
        if batches is not None:
            dataset = dataset.take(batches)
        start, n = time.perf_counter(), 0
        for batch in dataset:
            n += int(batch["input_ids"].shape[0])
        if attempt:
            best = max(best, n / (time.perf_counter() - start))
    return best, n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", type=int, default=None, help="the core to pin to (default: the last allowed)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--records", help="a directory of static records (default: made from the shared corpus)")
    args = parser.parse_args()
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import wptk.tf
    from wptk.inspection import record_files, record_shape

    with tempfile.TemporaryDirectory() as tmp:
        source = args.records or tmp
        what = f"records in {args.records}" if args.records else "records made from " + make_records(tmp)
        files = record_files([source])
        L, P = record_shape(files[0])
        spec = wptk.tf._spec(L, P)

        def plain():
            def parse(record):
                example = tf.io.parse_single_example(record, spec)
                return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}
            return tf.data.TFRecordDataset(files).map(parse).batch(args.batch_size)

        print(f"machine: {cpu_model()}; pinned to core {core}; TensorFlow {version('tensorflow')} with 1 intra-op "
              f"and 1 inter-op thread")
        print(f"{what}: {len(files)} files, {sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB, max_seq_length {L}, "
              f"max_predictions_per_seq {P}; batch size {args.batch_size}")
        with OtherCpu() as other:
            ours, n = rate(lambda: wptk.tf.pretraining_dataset(source, args.batch_size, training=False))
            theirs, _ = rate(plain)
            training, _ = rate(lambda: wptk.tf.pretraining_dataset(source, args.batch_size), n // args.batch_size)
        print(f"{n:,} examples per pass")
        print(f"plain TFRecordDataset + parse_single_example: {theirs:10,.0f} examples/s")
        print(f"wptk.tf.pretraining_dataset, evaluation mode: {ours:10,.0f} examples/s  ({ours / theirs:.2f}x plain)")
        print(f"wptk.tf.pretraining_dataset, training mode:   {training:10,.0f} examples/s  "
              f"({training / theirs:.2f}x plain; interleave, shuffle, repeat)")
        if other.cores is not None:
            print(f"other processes used {other.cores:.2f} cores meanwhile")


if __name__ == "__main__":
    main()
