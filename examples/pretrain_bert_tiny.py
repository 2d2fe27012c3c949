"""Pretrain BERT-Tiny (2 layers, hidden 128, 2 heads) with Keras from wptk's records, on CPU: the proof that the
records train BERT.

    python examples/pretrain_bert_tiny.py --train out/train --eval out/eval --vocab vocab.txt --steps 2000

Reads the records through wptk.tf.pretraining_dataset; the model is keras-hub's BertBackbone (random init, nothing
downloaded) with a masked-LM head tied to the token embedding and a next-sentence head on the pooled output, as in
BERT. The held-out records are evaluated before training and every --steps/--evals steps; at the end the script
prints the masked-LM accuracy and loss on them and writes curve.png and metrics.json into --output_dir.
Needs `pip install wptk[train]` (TensorFlow, keras-hub, matplotlib).
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")       # the records come as a tf.data pipeline
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = os.path.basename(sys.argv[0])


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True, nargs="+", help="training records: files, globs or directories")
    p.add_argument("--eval", required=True, nargs="+", help="held-out records (made from other text)")
    p.add_argument("--vocab", required=True, help="the vocab the records were made with (gives the vocab size)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (a multiple of the evaluation interval)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--learning_rate", type=float, default=1e-3, help="peak, after 10%% warm-up; cosine decay")
    p.add_argument("--evals", type=int, default=20, help="evaluations on the held-out records during training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default="bert-tiny-output", help="for curve.png and metrics.json")
    args = p.parse_args(argv)
    for name in ("steps", "batch_size", "evals"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def model_inputs(features):
    """A batch of wptk.tf.pretraining_dataset as Keras (inputs, targets, sample weights)."""
    import tensorflow as tf
    x = {"token_ids": features["input_ids"], "segment_ids": features["segment_ids"],
         "padding_mask": features["input_mask"], "mask_positions": features["masked_lm_positions"]}
    y = {"mlm": features["masked_lm_ids"], "nsp": features["next_sentence_labels"]}
    w = {"mlm": features["masked_lm_weights"], "nsp": tf.ones_like(features["next_sentence_labels"], tf.float32)}
    return x, y, w


def build_model(vocab_size, seq_length):
    """BERT-Tiny with masked-LM and next-sentence heads; outputs logits."""
    import keras
    import keras_hub
    backbone = keras_hub.models.BertBackbone(vocabulary_size=vocab_size, num_layers=2, num_heads=2, hidden_dim=128,
                                             intermediate_dim=512, max_sequence_length=seq_length)
    inputs = {name: keras.Input((None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
    out = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
    mlm = keras_hub.layers.MaskedLMHead(token_embedding=backbone.token_embedding, intermediate_activation="gelu",
                                        name="mlm")(out["sequence_output"], mask_positions=inputs["mask_positions"])
    nsp = keras.layers.Dense(2, name="nsp")(out["pooled_output"])
    return keras.Model(inputs, {"mlm": mlm, "nsp": nsp})


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf
    import wptk
    import wptk.tf

    try:
        vocab_size = len(wptk.load_vocab(args.vocab))
        train = wptk.tf.pretraining_dataset(args.train, args.batch_size, seed=args.seed)
        held_out = wptk.tf.pretraining_dataset(args.eval, args.batch_size, training=False)
    except (OSError, ValueError) as e:
        sys.exit(f"{PROG}: error: {e}")
    seq_length = train.element_spec["input_ids"].shape[1]
    keras.utils.set_random_seed(args.seed)
    model = build_model(vocab_size, seq_length)
    interval = max(1, args.steps // args.evals)
    steps = interval * (args.steps // interval)
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps - warmup, warmup_target=args.learning_rate,
                                                      warmup_steps=warmup)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0),
        # BERT's masked-LM loss: the mean over real predictions (weight 1), not over all prediction slots
        loss={"mlm": keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                reduction="mean_with_sample_weight"),
              "nsp": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        weighted_metrics={"mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
                          "nsp": [keras.metrics.SparseCategoricalAccuracy("accuracy")]})
    train, held_out = train.map(model_inputs), held_out.map(model_inputs)
    batches = int(held_out.reduce(0, lambda n, _: n + 1))     # a known length: Keras then ends evaluations quietly
    held_out = held_out.apply(tf.data.experimental.assert_cardinality(batches))

    start = model.evaluate(held_out, verbose=0, return_dict=True)
    began = time.monotonic()
    history = model.fit(train, steps_per_epoch=interval, epochs=steps // interval, validation_data=held_out,
                        shuffle=False, verbose=1 if sys.stdout.isatty() else 2).history
    wall = time.monotonic() - began
    end = model.evaluate(held_out, verbose=0, return_dict=True)

    curve = {"step": [0] + [interval * (i + 1) for i in range(steps // interval)],
             "train_loss": [None] + history["loss"], "train_mlm_accuracy": [None] + history["mlm_accuracy"]}
    for name in ("mlm_loss", "mlm_accuracy", "nsp_accuracy"):
        curve[f"held_out_{name}"] = [start[name]] + history[f"val_{name}"]
    metrics = {"steps": steps, "batch_size": args.batch_size, "seq_length": seq_length, "vocab_size": vocab_size,
               "train_seconds": round(wall, 1), "held_out_start": start, "held_out_end": end, "curve": curve}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    plot(curve, os.path.join(args.output_dir, "curve.png"), f"BERT-Tiny, batch {args.batch_size}, {seq_length} tokens")
    print(f"{steps} steps of {args.batch_size} in {wall:.0f} s; held-out masked-LM accuracy "
          f"{start['mlm_accuracy']:.3f} -> {end['mlm_accuracy']:.3f}, loss {start['mlm_loss']:.2f} -> "
          f"{end['mlm_loss']:.2f} (uniform guess: {math.log(vocab_size):.2f}); next-sentence accuracy "
          f"{start['nsp_accuracy']:.3f} -> {end['nsp_accuracy']:.3f}; wrote {args.output_dir}/curve.png, metrics.json")


def plot(curve, path, title):
    """Training loss and held-out masked-LM loss and accuracy against steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    steps = curve["step"]
    left.plot(steps[1:], curve["train_loss"][1:], label="training loss (MLM + NSP)")
    left.plot(steps, curve["held_out_mlm_loss"], label="held-out MLM loss")
    left.set_xlabel("step")
    left.legend()
    right.plot(steps, curve["held_out_mlm_accuracy"], color="C2")
    right.set_xlabel("step")
    right.set_ylabel("held-out masked-LM accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
