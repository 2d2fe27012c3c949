"""Reading a WordPiece vocabulary exactly as BERT's `load_vocab` does, with clear errors."""
import collections
import itertools
import operator
import warnings

from wptk.errors import WptkError

UNK, CLS, SEP, MASK, PAD = "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]"


def load_vocab(vocab_file):
    """token -> id, where id is the line number and each line is `str.strip()`ped.

    Lines are split on "\\n" only (the Chinese vocab has U+2028 tokens); a token that appears twice keeps its
    first position in the dict and its last id, as in the reference.
    """
    try:
        with open(vocab_file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WptkError(f"cannot read vocab file {vocab_file}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise WptkError(f"vocab file {vocab_file} is not valid UTF-8 (line {line})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = collections.OrderedDict(zip(map(str.strip, lines), range(len(lines))))
    if not vocab:
        raise WptkError(f"vocab file {vocab_file} is empty")
    return vocab


def require_tokens(vocab, tokens, vocab_file):
    """Raises WptkError naming the special tokens the vocab lacks."""
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise WptkError(f"vocab file {vocab_file} has no {', '.join(missing)} token")


def looks_cased(vocab):
    """True / False when the vocab is evidently cased / uncased, None when it cannot tell. Only words count:
    not the empty token nor bracketed ones such as [CLS]."""
    tokens = list(vocab)
    joined = "\n".join(tokens)        # lowercased at once; lower() never makes or removes a "\n"
    changed = itertools.compress(tokens, map(operator.ne, tokens, joined.lower().split("\n")))
    with_upper = sum(1 for t in changed if not t.startswith("["))
    words = len(tokens) - ("\n" + joined).count("\n[") - ("" in vocab)
    if with_upper > 0.01 * words:
        return True
    if words > 1000 and with_upper <= 0.001 * words:
        return False
    return None


class CaseMismatch(UserWarning):
    """The vocab evidently does not suit the tokenizer's case handling: `vocab_cased` says which way. Its text
    names the library's arguments; `text()` words it with a command's own flags."""

    def __init__(self, vocab_file, vocab_cased, multilingual=False):
        self.vocab_file, self.vocab_cased, self.multilingual = vocab_file, vocab_cased, multilingual
        super().__init__(self.text("do_lower_case=True", "do_lower_case=False", "multilingual=True"))

    def text(self, lower, keep, multilingual):
        """The warning with `lower`, `keep` and `multilingual` as the settings that lowercase, keep case, and
        choose the multilingual mode (which keeps case)."""
        if self.vocab_cased:
            return (f"{self.vocab_file} looks like a cased vocab (many tokens have capitals) but {lower} lowercases: "
                    f"capitalised pieces will never be produced; use {keep} for cased models")
        if self.multilingual:
            return (f"{self.vocab_file} looks like an uncased vocab (no tokens have capitals) but {multilingual} keeps "
                    "case (the multilingual mode never lowercases): capitalised words will split badly; use a cased "
                    "vocab such as bert-base-multilingual-cased's")
        return (f"{self.vocab_file} looks like an uncased vocab (no tokens have capitals) but {keep} keeps case: "
                f"capitalised words will split badly; use {lower} for uncased models")


def check_case(vocab, do_lower_case, vocab_file, multilingual=False):
    """Warns (CaseMismatch) once when lowercasing meets a cased vocab, or the reverse, as the reference's
    `validate_case_matches_checkpoint` does from checkpoint names, but by looking at the vocab."""
    cased = looks_cased(vocab)
    if cased is True and do_lower_case or cased is False and not do_lower_case:
        warnings.warn(CaseMismatch(vocab_file, cased, multilingual), stacklevel=3)
