"""Learning a BERT WordPiece vocabulary from word counts (`wptk vocab`).

The vocabulary is chosen for the tokenizer that will use it: BERT's greedy longest-match-first WordPiece over
the words of the same BasicTokenizer. The goal is the fewest tokens for the counted words, and the learner
measures exactly that, by segmenting every distinct word the way WordpieceTokenizer will:

1. Characters. Every character seen at least `min_count` times gets a word-start token and a `##` token, so
   [UNK] only stands for characters the corpus (nearly) never had. (The `##` form is left out for characters
   the pre-tokenizer always splits off on their own, punctuation and CJK ideographs, unless the corpus had them
   inside a word.)
2. Grow. Segment every word with the current vocabulary; count adjacent piece pairs, weighted by word counts;
   add the most frequent pairs as new pieces (2% of the vocabulary per round; ties at the cut go to word starts,
   then to the smaller string); repeat until the learned part is `grow_factor` (1.3) times its budget. Like
   BPE, but words are re-segmented greedily, as the tokenizer will do it. Only the words where a new piece
   now matches are re-segmented (a new piece can only match where greedy matching stopped at its first part),
   so a round costs little more than the words it changes.
3. Prune. For every learned piece compute its exact removal cost: how many more tokens the corpus needs when
   that piece alone is removed (every word using it re-segmented without it). Remove the cheapest fifth of the
   excess (at least 3% of the initial excess), unused pieces first, ties to the newest; re-measure; repeat
   until exactly the budget is left.

Growing past the budget and pruning back removes the intermediate pieces that pair merging leaves behind and
that greedy matching rarely or never uses. On English (benchmarks/bench_vocab.py) it needs about 0.3% fewer
tokens per held-out word than growing alone, which is what HF tokenizers' WordPieceTrainer does (BPE merges);
growing much further (2x) before pruning is worse: pruning then removes the short pieces first and gets stuck.

Output layout (BERT's): [PAD], [unused0..M-1], [UNK], [CLS], [SEP], [MASK], the word-start characters, the `##`
characters (both in code-point order), then the learned pieces, most used first. Everything is deterministic:
words are processed in sorted order and every tie is broken explicitly.
"""
import collections
import dataclasses
import heapq
import math
import time

import numpy as np

from wptk.errors import WptkError
from wptk.vocab import CLS, MASK, PAD, SEP, UNK

MAX_WORD_CHARS = 200        # WordpieceTokenizer's max_input_chars_per_word: longer words are [UNK] anyway
DEFAULT_RESERVED_UNUSED = 99  # bert-base-uncased: [UNK] = 100, [CLS] = 101, [SEP] = 102, [MASK] = 103
CONT = "##"


def special_tokens(reserved_unused=DEFAULT_RESERVED_UNUSED):
    """[PAD], [unused0..M-1], [UNK], [CLS], [SEP], [MASK]: BERT's first ids."""
    return [PAD] + [f"[unused{i}]" for i in range(reserved_unused)] + [UNK, CLS, SEP, MASK]


def representable(token):
    """Whether `token` survives a line of a vocab file: BERT's load_vocab strips every line (str.strip)."""
    return token == token.strip() and "\n" not in token


# ---------------------------------------------------------------------------------------------------------------
# Counting words (the per-chunk work of pipelines/word_count.py; also usable on its own)


def count_words(text, tokenizer, counts=None):
    """Adds the BasicTokenizer words of `text` (any number of lines) to `counts` (a Counter) and returns it.

    BasicTokenizer treats "\\n" as whitespace, so counting a chunk of lines at once gives the same counts as
    counting line by line, much faster.
    """
    counts = collections.Counter() if counts is None else counts
    counts.update(tokenizer.tokenize(text))
    return counts


def merge_counts(many):
    """The sum of an iterable of {key: count} dicts, as one dict (Beam's combiner for word counts)."""
    total = None
    for counts in many:
        if total is None:
            total = dict(counts)
            continue
        get = total.get
        for key, n in counts.items():
            total[key] = get(key, 0) + n
    return total if total is not None else {}


# ---------------------------------------------------------------------------------------------------------------
# The learner


@dataclasses.dataclass
class LearnedVocab:
    """A learned vocabulary (`tokens`, in file order) and what the learner saw."""
    tokens: list
    n_special: int
    n_characters: int              # single-character tokens (word-start and ## forms)
    n_learned: int                 # multi-character pieces chosen by the learner
    n_padding: int                 # extra [unused] tokens when the corpus had too little to fill vocab_size
    words: int                     # word occurrences counted
    distinct_words: int
    characters_seen: int           # distinct characters in the words
    characters_covered: int        # of those, with a word-start token
    characters_completed: int      # characters added by complete_alphabets (never seen)
    char_occurrences: int
    char_occurrences_covered: int
    unk_words: int                 # word occurrences that will be [UNK] (rare characters, longer than 200)
    tokens_per_word: float         # on the counted words, with this vocabulary
    seconds: float

    def write(self, stream):
        stream.write("".join(token + "\n" for token in self.tokens))


class WordPieceLearner:
    """Learns `vocab_size` tokens from word counts; see the module docstring for the method.

    grow_factor: grow the learned part to this multiple of its budget before pruning back (1 = no pruning).
    grow_step: the share of the vocabulary added per grow round; prune_step: the share of the excess removed
    per prune round, but at least prune_floor of the initial excess. Smaller steps are slower, rarely better.
    """

    def __init__(self, vocab_size, reserved_unused=DEFAULT_RESERVED_UNUSED, min_count=1, complete_alphabets=0,
                 grow_factor=1.3, grow_step=0.02, prune_step=0.2, prune_floor=0.03, progress=None):
        if vocab_size < 1:
            raise WptkError(f"--vocab_size must be positive, got {vocab_size}")
        if reserved_unused < 0:
            raise WptkError(f"--reserved_unused must be >= 0, got {reserved_unused}")
        if min_count < 1:
            raise WptkError(f"--min_count must be >= 1, got {min_count}")
        if complete_alphabets < 0:
            raise WptkError(f"--complete_alphabets must be >= 0, got {complete_alphabets}")
        if grow_factor < 1 or not 0 < grow_step <= 1 or not 0 < prune_step <= 1 or not 0 <= prune_floor <= 1:
            raise ValueError("grow_factor must be >= 1, grow_step and prune_step in (0, 1], prune_floor in [0, 1]")
        self.vocab_size = vocab_size
        self.reserved_unused = reserved_unused
        self.min_count = min_count
        self.complete_alphabets = complete_alphabets
        self.grow_factor = grow_factor
        self.grow_step = grow_step
        self.prune_step = prune_step
        self.prune_floor = prune_floor
        self.progress = progress      # callable(stage, done, total) or None

    def learn(self, word_counts, tokenizer=None):
        """A LearnedVocab from {word: count} (or (word, count) pairs) of the words of `tokenizer`.

        tokenizer: the wptk.BasicTokenizer that made the words, asked which characters it always splits off
        on their own (they get no ## form unless the corpus had them inside a word), which ones survive it (for
        complete_alphabets) and, in its multilingual mode, which ones WordPiece steps over unless the vocabulary
        has them (joiners, selectors: learned like any character when the vocab can hold them, else taken out
        of the words). None: characters are taken as they come, every one with both forms.
        """
        from wptk._native.wordpiece_learner import PieceTrie, Words

        start_time = time.perf_counter()
        counts = _positive_counts(word_counts)
        stats = _CharStats(counts, self.min_count, tokenizer, self.complete_alphabets)
        if getattr(tokenizer, "multilingual", False):
            counts = _drop_transparent(counts, stats, transparent_in_multilingual)
        specials = special_tokens(self.reserved_unused)
        chars = stats.start_chars + [CONT + c for c in stats.cont_chars]
        budget = self.vocab_size - len(specials) - len(chars)
        if budget < 0:
            raise WptkError(
                f"--vocab_size {self.vocab_size:,} is too small: the {len(specials)} special tokens and the "
                f"{len(chars):,} character tokens (every character seen at least --min_count={self.min_count} "
                f"times{' and the completed alphabets' if stats.n_completed else ''}, "
                f"{len(stats.start_chars):,} characters) need {len(specials) + len(chars):,}; raise --vocab_size "
                f"or --min_count{' or --complete_alphabets' if stats.n_completed else ''}")

        learnable = sorted(w for w in counts if len(w) <= MAX_WORD_CHARS)
        words = Words(learnable, np.array([counts[w] for w in learnable], dtype=np.int64))
        trie = PieceTrie()
        strings = []
        for token in chars:
            strings.append(token)
            trie.add(token)
        n_fixed = len(strings)

        target = n_fixed + max(budget, int(math.ceil(budget * self.grow_factor)))
        self._grow(words, trie, strings, target)
        segmentation = self._prune(words, trie, strings, n_fixed, budget)

        usage = segmentation.usage()
        alive = [i for i in range(n_fixed, len(strings)) if trie.contains(i)]
        alive.sort(key=lambda i: (-usage[i], strings[i]))
        learned = [strings[i] for i in alive]
        padding = [f"[unused{self.reserved_unused + i}]" for i in range(budget - len(learned))]
        tokens = specials + chars + learned + padding
        assert len(tokens) == self.vocab_size and len(set(tokens)) == len(tokens)

        n_words = sum(counts.values())
        unk_words = n_words - int(words.counts.sum()) + segmentation.unsegmentable_count
        return LearnedVocab(
            tokens=tokens, n_special=len(specials), n_characters=len(chars), n_learned=len(learned),
            n_padding=len(padding), words=int(stats.total_words), distinct_words=len(stats.counts),
            characters_seen=len(stats.char_count), characters_covered=len(stats.start_chars) - stats.n_completed,
            characters_completed=stats.n_completed,
            char_occurrences=stats.char_occurrences, char_occurrences_covered=stats.covered_occurrences,
            unk_words=unk_words,
            tokens_per_word=(segmentation.total + unk_words) / n_words if n_words else 0.0,
            seconds=time.perf_counter() - start_time)

    # -- stages ---------------------------------------------------------------------------------------------

    def _report(self, stage, done, total):
        if self.progress is not None:
            self.progress(stage, done, total)

    def _grow(self, words, trie, strings, target):
        """Adds the most frequent adjacent piece pairs, a few percent of the vocabulary per round."""
        from wptk._native.wordpiece_learner import Grower

        grower = Grower(words, trie)
        known = set(strings)
        while len(strings) < target:
            count, word, start, end, first = grower.candidates()
            if not len(count):
                break                                      # every word is a single piece already
            k = min(target - len(strings), max(1, int(self.grow_step * len(strings))), len(count))
            chosen = _most_frequent(k, count, word, start, end, words)
            # A word-start piece that begins with "##" (words of the raw counts API may hold '#') is written as
            # the line of the continuation piece of its rest: the vocab file cannot hold both. Never add it twice.
            texts = [CONT + words.substring(word[i], start[i], end[i]) if start[i] > 0 else
                     words.substring(word[i], start[i], end[i]) for i in chosen.tolist()]
            fresh = [n for n, text in enumerate(texts) if text not in known and texts.index(text) == n]
            if not fresh:
                break                                      # every candidate left would repeat a line
            chosen = chosen[fresh]
            first_new_id = len(strings)
            for n, i in zip(fresh, chosen.tolist()):
                token_id = trie.add_substring(words, word[i], start[i], end[i])
                assert token_id == len(strings), "a pair was a token already"
                strings.append(texts[n])
                known.add(texts[n])
            grower.update(first[chosen], first_new_id)
            self._report("grow", len(strings), target)

    def _prune(self, words, trie, strings, n_fixed, budget):
        """Removes the pieces whose removal costs the fewest tokens until `budget` learned pieces are left;
        returns the final segmentation."""
        from wptk._native.wordpiece_learner import Segmentation

        ids = np.arange(n_fixed, len(strings))
        initial_excess = max(0, len(ids) - budget)
        while True:
            segmentation = Segmentation(words, trie)
            excess = len(ids) - budget
            if excess <= 0:
                return segmentation
            skip = np.ones(trie.n_tokens, dtype=np.uint8)
            skip[ids] = 0
            cost = segmentation.removal_costs(skip)[ids]
            k = min(excess, int(math.ceil(max(self.prune_step * excess, self.prune_floor * initial_excess))))
            drop = _cheapest(k, cost, ids)                 # unused pieces (cost 0) first
            for token_id in drop.tolist():
                trie.remove(token_id)
            ids = np.setdiff1d(ids, drop, assume_unique=True)
            self._report("prune", initial_excess - (len(ids) - budget), initial_excess)


def _most_frequent(k, count, word, start, end, words):
    """Rows of the k most frequent candidate pairs: by count; among equal counts at the cut, word starts before
    continuations, then by the token's code points. (They are returned by count, then where they first
    occurred; that order only numbers them.)"""
    if k < len(count):
        kth = -np.partition(-count, k - 1)[k - 1]
        above = np.flatnonzero(count > kth)
        ties = np.flatnonzero(count == kth)
        if len(above) + len(ties) > k:
            ties = heapq.nsmallest(k - len(above), ties.tolist(),
                                   key=lambda i: (start[i] > 0, words.substring(word[i], start[i], end[i])))
        rows = np.concatenate([above, np.array(ties[:k - len(above)], dtype=np.int64)])
    else:
        rows = np.arange(len(count))
    return rows[np.lexsort((start[rows], word[rows], -count[rows]))]


def _cheapest(k, cost, ids):
    """The k ids of lowest cost; ties: the newest (highest id) first."""
    return ids[np.lexsort((-ids, cost))[:k]]


def _positive_counts(word_counts):
    items = word_counts.items() if hasattr(word_counts, "items") else word_counts
    counts = {}
    for word, n in items:
        if n < 0 or int(n) != n:
            raise WptkError(f"word counts must be non-negative integers, got {n!r} for {word!r}")
        if n and word:
            counts[word] = counts.get(word, 0) + int(n)
    return counts


class _CharStats:
    """Character counts of the words, and the characters the vocabulary must hold."""

    def __init__(self, counts, min_count, tokenizer, complete_alphabets):
        self.counts = counts
        self.total_words = sum(counts.values())
        char_count = collections.Counter()
        inner = set()
        for word, n in counts.items():
            for c in word:
                char_count[c] += n
            inner.update(word[1:])
        self.char_count = char_count
        self.char_occurrences = sum(char_count.values())
        kept = {c for c, n in char_count.items() if n >= min_count and representable(c)}
        self.covered_occurrences = sum(char_count[c] for c in kept)
        added = _alphabet_completion(kept, complete_alphabets, tokenizer) if complete_alphabets else set()
        self.n_completed = len(added)
        isolated = isolation_probe(tokenizer) if tokenizer is not None else (lambda c: False)
        self.start_chars = sorted(kept | added)
        self.cont_chars = [c for c in self.start_chars if c in inner or not isolated(c)]


ALPHABET_SPAN = 128       # complete_alphabets works on ranges of this many code points (most Unicode blocks)


def _alphabet_completion(kept, min_seen, tokenizer):
    """The letters, marks and digits never seen in ranges of 128 code points where at least `min_seen` of them
    were seen: the rest of the alphabets the corpus uses. CJK ideographs and Hangul syllables (thousands each)
    are left to the corpus; so are characters the tokenizer would change or split off."""
    import unicodedata

    from wptk.chartable import CJK_RANGES

    def alphabetic(c):
        return unicodedata.category(c)[0] in "LMN"

    seen = collections.Counter(ord(c) // ALPHABET_SPAN for c in kept if alphabetic(c))
    added = set()
    for span in sorted(r for r, n in seen.items() if n >= min_seen):
        for cp in range(span * ALPHABET_SPAN, (span + 1) * ALPHABET_SPAN):
            c = chr(cp)
            if (c in kept or not alphabetic(c) or 0xAC00 <= cp <= 0xD7A3
                    or any(lo <= cp <= hi for lo, hi in CJK_RANGES) or not representable(c)):
                continue
            if tokenizer is None or tokenizer.tokenize(c) == [c]:
                added.add(c)
    return added


def _drop_transparent(counts, stats, transparent):
    """Words without the transparent characters the vocabulary will not hold (WordPiece steps over them)."""
    kept = set(stats.start_chars)
    gone = {c for c in stats.char_count if c not in kept and transparent(c)}
    if not gone:
        return counts
    table = {ord(c): None for c in gone}
    out = {}
    for word, n in counts.items():
        word = word.translate(table) if any(c in gone for c in word) else word
        if word:
            out[word] = out.get(word, 0) + n
    return out


def transparent_in_multilingual(c):
    """The multilingual tokenizer's soft characters (joiners, selectors, format characters) and U+202F:
    WordPiece steps over them unless the vocabulary has a piece containing them (docs/multilingual.md)."""
    from wptk import chartable
    cp = ord(c)
    return bool(chartable.multilingual_flags()[cp] & chartable.F_SOFT) or cp == chartable.NNBSP


def isolation_probe(basic_tokenizer):
    """isolated(char) for `learn`: True when `basic_tokenizer` splits the character off on its own between
    letters and when repeated (punctuation, CJK ideographs)."""
    def isolated(c):
        return (basic_tokenizer.tokenize("a" + c + "a") == ["a", c, "a"]
                and basic_tokenizer.tokenize(c * 3) == [c] * 3)
    return isolated
