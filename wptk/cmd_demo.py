"""`wptk demo`: the main job on the bundled sample text, with no download."""
import os
import time

HELP = "run the main job on the bundled sample text"
DESCRIPTION = """\
Tokenizes the bundled sample text (chapters of Pride and Prejudice) with the bundled sample vocabulary and
prints a summary and a few tokenized lines. Nothing is downloaded.
"""


def sample_path(name):
    return os.path.join(os.path.dirname(__file__), "data", name)


def add_arguments(p):
    p.add_argument("--lines", type=int, default=3, help="how many tokenized lines to show (default 3)")


def run(args):
    from wptk.tokenization import FullTokenizer

    text, vocab = sample_path("sample.txt"), sample_path("sample_vocab.txt")
    tokenizer = FullTokenizer(vocab, do_lower_case=True)
    with open(text, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = time.perf_counter()
    ids, splits = tokenizer.encode_batch(lines)
    seconds = time.perf_counter() - start
    size = os.path.getsize(text)
    print(f"wptk demo: tokenized {text}")
    print(f"  {len(lines):,} lines, {size / 1e3:.0f} KB -> {len(ids):,} WordPiece tokens "
          f"in {seconds * 1e3:.1f} ms ({size / 1e6 / max(seconds, 1e-9):.0f} MB/s), vocab {vocab}")
    shown = [i for i in range(len(lines)) if lines[i].strip()][: args.lines]
    for i in shown:
        print(f"  {lines[i][:70]!r}\n    -> {' '.join(tokenizer.tokenize(lines[i])[:16])} ...")
    print("next: wptk tokenize --vocab VOCAB FILE   (see wptk tokenize --help)")
    return 0
