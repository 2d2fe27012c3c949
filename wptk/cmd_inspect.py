"""`wptk inspect`: decode and profile BERT pretraining records, without TensorFlow."""
import json
import sys

HELP = "decode and profile pretraining records (TFRecord files, plain or GZIP)"
DESCRIPTION = """\
Reads TFRecord files of BERT pretraining data (what wptk create-pretraining-data, the Beam pipeline or
google-research/bert's create_pretraining_data.py write; plain or GZIP, detected), prints the first records as
the reference logs its examples, and a profile of all records: lengths and padding, the masked share of real
tokens and its 80/10/10 split against the recipe, how often max_predictions_per_seq cut the masks short, the
pair-label balance, and with --vocab the [UNK] share and the tokens most often next to [UNK].

examples:
  wptk inspect out/train.tfrecord --vocab vocab.txt
  wptk inspect 'out/*.tfrecord.gz' --examples 0 --json
  wptk inspect out/ --vocab vocab.txt --report report.html     # charts (pip install "wptk[report]")
"""


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="record files, glob patterns or directories")
    p.add_argument("--vocab", "--vocab_file", dest="vocab", metavar="FILE",
                   help="the vocab the records were made with: shows tokens, [UNK] figures, knows [MASK]")
    p.add_argument("--examples", type=int, default=2, metavar="N",
                   help="decode the first N records, as the reference logs them (default 2)")
    p.add_argument("--masked_lm_prob", type=float, default=0.15, metavar="P",
                   help="the recipe's masked LM probability, to compare with (default 0.15)")
    p.add_argument("--json", action="store_true", help="print the profile as one JSON object (no examples)")
    p.add_argument("--report", metavar="FILE.html",
                   help="also write the profile as a self-contained HTML page with charts (needs matplotlib)")


def run(args):
    from wptk.errors import WptkError
    from wptk.inspection import Profile, example_text, read_batches
    from wptk.vocab import load_vocab

    if args.examples < 0:
        raise WptkError(f"--examples must be >= 0, got {args.examples}")
    if not 0 < args.masked_lm_prob <= 1:
        raise WptkError(f"--masked_lm_prob must be in (0, 1], got {args.masked_lm_prob}")
    vocab = load_vocab(args.vocab) if args.vocab else None
    inv_vocab = {i: t for t, i in vocab.items()} if vocab else None
    profile = Profile(vocab, args.masked_lm_prob)
    shown = 0
    for batch in read_batches(args.paths):
        profile.add(batch)
        while not args.json and shown < args.examples and shown < len(batch["input_ids"]):
            print(example_text(batch, shown, inv_vocab) + "\n")
            shown += 1
    figures = profile.figures()
    if vocab is not None and figures.get("ids_beyond_vocab"):
        raise WptkError(f"the records hold id {profile.max_id}, beyond the {len(vocab):,} entries of {args.vocab}: "
                        "were they made with another vocab?")
    if args.report:
        from wptk.report import write_report
        write_report(args.report, figures)
    print(json.dumps(figures) if args.json else profile.text())
    if args.report and not args.json:
        print(f"wrote {args.report}", file=sys.stderr)
    return 0
