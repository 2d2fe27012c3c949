"""Makes wptk/data/sample_vocab.txt from wptk/data/sample.txt (run from the repository root).

A deliberately simple vocabulary for the quick start: BERT's special tokens, every character seen as a word start
and as a '##' piece, the frequent words, and the frequent word endings as '##' pieces.
"""
import collections

from wptk import BasicTokenizer

SPECIAL = ["[PAD]"] + [f"[unused{i}]" for i in range(10)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def main(text_path="wptk/data/sample.txt", out_path="wptk/data/sample_vocab.txt", size=2000):
    words = collections.Counter()
    with open(text_path, encoding="utf-8") as f:
        for line in f:
            words.update(BasicTokenizer(do_lower_case=True).tokenize(line))
    chars = sorted({c for w in words for c in w})
    vocab = SPECIAL + chars + ["##" + c for c in chars]
    endings = collections.Counter()
    for w, n in words.items():
        for k in range(2, min(5, len(w))):
            endings["##" + w[-k:]] += n
    budget = size - len(vocab)
    frequent = [w for w, _ in words.most_common() if w not in vocab][: budget * 3 // 4]
    vocab += frequent
    vocab += [e for e, _ in endings.most_common() if e not in vocab][: size - len(vocab)]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")


if __name__ == "__main__":
    main()
