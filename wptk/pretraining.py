"""BERT pretraining data, step by step: read documents, build instances, mask, serialize, write.

Each step is usable alone and works on any subset of documents with any seed; data stays in numpy arrays
(token ids, sentence and document offsets, compact instance records), never in lists of Python strings.
With the same input, vocab, flags and seed, `create_pretraining_data` writes the records that google-research/bert's
create_pretraining_data.py writes, in the same order.

    docs = read_documents(["corpus.txt"], tokenizer)
    vocab_ids, config = VocabIds.from_vocab(tokenizer.vocab), PretrainingConfig(random_seed=1)
    instances = create_instances(docs, vocab_ids, config)
    write_instances(docs, instances, ["out.tfrecord"], vocab_ids, config)
"""
import dataclasses
import glob
import itertools
import numbers
import operator
import os
import time

import numpy as np

from wptk._native.instances import MASKINGS, SENTENCE_PAIRS, InstanceBuilder, materialize
from wptk._native.pyrandom import CompatRandom
from wptk import formats, recipe
from wptk.errors import WptkError
from wptk.files import check_input
from wptk.progress import Progress
from wptk.reader import MAX_LINE_BYTES, Utf8Decoder, decompressor, read_lines
from wptk.vocab import CLS, MASK, SEP, UNK, require_tokens

LINES_PER_BATCH = 8192
INSTANCES_PER_BATCH = 1024
DOCUMENTS_PER_STEP = 2000       # progress granularity while building


MAX_PREDICTIONS = 65535        # as max_seq_length: a record's positions are a fixed-size list of this length
MAX_DUPE_FACTOR = 100_000      # passes over the data; the reference's default is 10


@dataclasses.dataclass(frozen=True)
class PretrainingConfig:
    """The reference's flags, with its defaults."""
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    random_seed: int = 12345
    dupe_factor: int = 10
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    masking: str = "token"          # a name of MASKINGS: "whole_word" is the reference's --do_whole_word_mask
    sentence_pair: str = "nsp"      # a name of SENTENCE_PAIRS: "nsp" is the reference's next-sentence task

    def validate(self):
        """Raises WptkError for values the reference would crash on or silently misuse."""
        if self.max_seq_length < 5:
            raise WptkError(f"max_seq_length={self.max_seq_length} is too small: [CLS] A [SEP] B [SEP] needs "
                            "at least 5 positions")
        if self.max_seq_length > 65535:
            raise WptkError(f"max_seq_length={self.max_seq_length} is too large (at most 65535)")
        if self.max_predictions_per_seq < 1:
            raise WptkError(f"max_predictions_per_seq must be positive, got {self.max_predictions_per_seq}")
        if self.max_predictions_per_seq > MAX_PREDICTIONS:
            raise WptkError(f"max_predictions_per_seq={self.max_predictions_per_seq:,} is too large: every record "
                            f"holds that many positions; at most {MAX_PREDICTIONS:,} (a sequence has at most "
                            f"max_seq_length={self.max_seq_length} tokens to mask)")
        if self.dupe_factor < 1:
            raise WptkError(f"dupe_factor must be positive, got {self.dupe_factor}")
        if self.dupe_factor > MAX_DUPE_FACTOR:
            raise WptkError(f"dupe_factor={self.dupe_factor:,} is too large: every pass over the data adds its "
                            f"instances to memory; at most {MAX_DUPE_FACTOR:,} (use more input text instead)")
        if not 0.0 <= self.masked_lm_prob <= 1.0:
            raise WptkError(f"masked_lm_prob must be in [0, 1], got {self.masked_lm_prob}")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise WptkError(f"short_seq_prob must be in [0, 1], got {self.short_seq_prob}")
        for field, names in (("masking", MASKINGS), ("sentence_pair", SENTENCE_PAIRS)):
            if getattr(self, field) not in names:
                raise WptkError(f"unknown {field} {getattr(self, field)!r}: one of {', '.join(names)}")


@dataclasses.dataclass
class Documents:
    """Sentences of token ids: sentence s is tokens[sentences[s]:sentences[s + 1]], document d is sentences
    documents[d] to documents[d + 1] - 1. Every document has at least one sentence, every sentence a token."""
    tokens: np.ndarray      # uint16 or int32: see token_dtype
    sentences: np.ndarray   # int64, n_sentences + 1
    documents: np.ndarray   # int64, n_documents + 1

    @property
    def n_documents(self):
        return len(self.documents) - 1

    @property
    def n_sentences(self):
        return len(self.sentences) - 1


def _offsets(lengths):
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def expand_inputs(patterns):
    """The files of comma-separated glob patterns, each pattern's matches sorted; a pattern that matches
    nothing is an error (the reference would silently write an empty file). A file whose name holds glob
    characters ("[x].txt") is taken as named; a pipe such as /dev/stdin counts as a file."""
    files = []
    for pattern in [p for p in patterns.split(",") if p] if isinstance(patterns, str) else patterns:
        if not glob.has_magic(pattern) or os.path.lexists(pattern):
            check_input(pattern, "--input_file")
            files.append(pattern)
            continue
        matches = [m for m in sorted(glob.glob(pattern)) if not os.path.isdir(m)]
        if not matches:
            raise WptkError(f"input file not found: {pattern}")
        files.extend(matches)
    if not files:
        raise WptkError("--input_file names no file")
    return files


COMPRESSION_RATIO = 4       # text bytes per compressed byte, roughly, for an estimate


def estimated_memory(input_files, config):
    """About how many bytes of memory create_pretraining_data needs at its peak for these files, erring high:
    the instance-dense end of bench_pretraining.py's measurements (70 MB, plus per input MB 1.2 MB of tokens, as
    int32 ids of a large vocab take, and 0.4 MB of instances per dupe_factor pass); compressed files count
    COMPRESSION_RATIO times their size."""
    text_bytes = sum(os.path.getsize(p) * (COMPRESSION_RATIO if decompressor(p) else 1) for p in input_files)
    return int(70e6 + text_bytes * (1.2 + 0.4 * config.dupe_factor))


def token_dtype(vocab):
    """The dtype a corpus's token ids are kept in: uint16 when every id of the vocab fits and it has [UNK] (no
    word then gets the id -1), as with BERT's English vocabularies (30k entries); int32 for larger ones such as
    the multilingual (119k). uint16 halves the tokens' memory, a quarter of the command's memory per input MB on
    dense text."""
    fits = UNK in vocab and len(vocab) <= 1 << 16 and max(vocab.values()) < 1 << 16   # ids are distinct
    return np.uint16 if fits else np.int32


def documents_from_lines(lines, tokenizer):
    """Documents from text lines in the reference's input format: one sentence per line, blank lines between
    documents (a line is blank if `str.strip()` leaves nothing); lines without tokens are skipped; empty
    documents are dropped. Token ids are kept as token_dtype(tokenizer.vocab)."""
    dtype = token_dtype(tokenizer.vocab)
    token_chunks, length_chunks, doc_chunks = [], [], []
    doc = 0
    lines = iter(lines)
    while True:
        batch = list(itertools.islice(lines, LINES_PER_BATCH))
        if not batch:
            break
        ids, splits = tokenizer.encode_batch(batch)
        lengths = np.diff(splits)
        blank = np.fromiter(map(operator.not_, map(str.strip, batch)), dtype=bool, count=len(batch))
        doc_of_line = doc + np.cumsum(blank)
        doc = int(doc_of_line[-1])
        keep = lengths > 0
        token_chunks.append(ids.astype(dtype, copy=False))
        length_chunks.append(lengths[keep])
        doc_chunks.append(doc_of_line[keep])
    if not token_chunks:
        return Documents(np.zeros(0, dtype), np.zeros(1, np.int64), np.zeros(1, np.int64))
    tokens = np.concatenate(token_chunks)
    del token_chunks
    lengths = np.concatenate(length_chunks)
    doc_of_sentence = np.concatenate(doc_chunks)
    starts = np.flatnonzero(np.diff(doc_of_sentence, prepend=-1)) if len(lengths) else np.zeros(0, np.int64)
    documents = np.append(starts, len(lengths)).astype(np.int64)
    return Documents(tokens, _offsets(lengths), documents)


def read_documents(input_files, tokenizer, decoder=None, progress=None, max_line=MAX_LINE_BYTES):
    """Documents of the input files, read in order as one stream (a new file does not start a document); a line
    longer than `max_line` bytes is an error."""
    decoder = decoder or Utf8Decoder()
    lines = itertools.chain.from_iterable(read_lines(path, decoder, progress, max_line=max_line)
                                          for path in input_files)
    return documents_from_lines(lines, tokenizer)


@dataclasses.dataclass
class VocabIds:
    """What instance building needs from the vocab: special ids, the random-word table, '##' flags."""
    cls_id: int
    sep_id: int
    mask_id: int
    random_words: np.ndarray    # int32: the id of each vocab word, in the vocab's order (reference: vocab_words)
    is_subword: np.ndarray      # uint8 per id: the token starts with "##"

    @classmethod
    def from_vocab(cls, vocab, vocab_file="vocab"):
        require_tokens(vocab, [CLS, SEP, MASK, UNK], vocab_file)
        values = list(vocab.values())
        if not (all(type(i) is int for i in values) or all(isinstance(i, numbers.Integral) for i in values)) \
                or values and not 0 <= min(values) <= max(values) < 2**31:
            raise ValueError(f"the ids of {vocab_file} must be integers from 0 to 2**31 - 1")
        ids = np.fromiter(values, np.int32, len(values))
        is_subword = np.zeros(int(ids.max()) + 1, dtype=np.uint8)
        is_subword[ids] = np.fromiter(map(str.startswith, vocab, itertools.repeat("##")), bool, len(vocab))
        return cls(vocab[CLS], vocab[SEP], vocab[MASK], ids, is_subword)


@dataclasses.dataclass
class Instances:
    """Training instances in the order they are written. Instance i (a row of `arrays`) is
    [CLS] tokens[a_start:a_start+a_len] [SEP] tokens[b_start:b_start+b_len] [SEP] with the masked positions
    positions[i] up to its first 0 (no masked position is 0, [CLS]'s), each replaced by [MASK] (kind 0), kept (1)
    or replaced by the next of the instance's random words random_ids[random_at[i]:] (2); the kind of prediction k
    is bits 2(k%4)..2(k%4)+1 of kinds[i, k//4]. Lengths and positions are uint8 when max_seq_length <= 256, else
    uint16. About 48 bytes per instance at the default flags."""
    arrays: dict
    order: np.ndarray       # int32: the final shuffle (row numbers of `arrays`)

    def __len__(self):
        return len(self.order)

    @property
    def n_masked_total(self):
        return int(self.arrays["n_masked_total"])

    @property
    def n_random_next(self):
        return int(self.arrays["random_next"].sum())

    @property
    def n_truncated(self):
        return int(self.arrays["n_truncated"])


def _check_documents(docs):
    """ValueError unless the arrays of `docs` have the documented types (the builder checks the offsets)."""
    for name, dtypes in (("tokens", (np.uint16, np.int32)), ("sentences", (np.int64,)),
                         ("documents", (np.int64,))):
        array = getattr(docs, name)
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype not in dtypes:
            raise ValueError(f"Documents.{name} must be a 1-D numpy array of {' or '.join(np.dtype(d).name for d in dtypes)}, "
                             f"got {getattr(array, 'dtype', type(array).__name__)} of shape "
                             f"{getattr(array, 'shape', '?')}")


def _check_vocab_ids(vocab_ids, docs):
    """ValueError unless `vocab_ids` describes every id the documents hold: the '##' flags cover them, and the
    special ids and random words are ids of the vocab."""
    random_words, is_subword = vocab_ids.random_words, vocab_ids.is_subword
    for name, array, dtype in (("random_words", random_words, np.int32), ("is_subword", is_subword, np.uint8)):
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype != dtype or not len(array):
            raise ValueError(f"VocabIds.{name} must be a non-empty 1-D numpy array of {np.dtype(dtype)}")
    n_ids = len(is_subword)
    specials = (vocab_ids.cls_id, vocab_ids.sep_id, vocab_ids.mask_id)
    if not all(isinstance(i, numbers.Integral) and 0 <= i < n_ids for i in specials):
        raise ValueError(f"VocabIds: [CLS], [SEP] and [MASK] ids {specials} must be ids of the vocab (0 to "
                         f"{n_ids - 1})")
    if random_words.min() < 0 or random_words.max() >= n_ids:
        raise ValueError(f"VocabIds.random_words must be ids of the vocab (0 to {n_ids - 1})")
    if len(docs.tokens) and (int(docs.tokens.max()) >= n_ids or int(docs.tokens.min()) < 0):
        raise ValueError(f"the documents hold token ids outside the vocab (VocabIds.is_subword covers {n_ids} "
                         "ids): they were made with another vocab")


def create_instances(docs, vocab_ids, config, rng=None, progress=None):
    """The reference's create_training_instances after reading: shuffle documents, `dupe_factor` passes of
    next-sentence pairs with masking, shuffle instances, all from one stream (default: random_seed)."""
    config.validate()
    _check_documents(docs)
    _check_vocab_ids(vocab_ids, docs)
    rng = CompatRandom(config.random_seed) if rng is None else rng
    order = np.arange(docs.n_documents, dtype=np.int64)
    if len(order):
        rng.shuffle_array(order)
    builder = InstanceBuilder(
        docs.tokens, docs.sentences, docs.documents, order, rng, max_seq_length=config.max_seq_length,
        short_seq_prob=config.short_seq_prob, masked_lm_prob=config.masked_lm_prob,
        max_predictions_per_seq=config.max_predictions_per_seq, masking=config.masking,
        sentence_pair=config.sentence_pair, random_words=vocab_ids.random_words, is_subword=vocab_ids.is_subword,
        cls_id=vocab_ids.cls_id, sep_id=vocab_ids.sep_id, mask_id=vocab_ids.mask_id)
    builder.reserve(config.dupe_factor * docs.n_sentences)
    for _ in range(config.dupe_factor):
        for start in range(0, docs.n_documents, DOCUMENTS_PER_STEP):
            stop = min(start + DOCUMENTS_PER_STEP, docs.n_documents)
            builder.add(start, stop)
            if progress is not None:
                progress.advance(stop - start)
    arrays = builder.finish()
    shuffled = np.arange(len(arrays["a_len"]), dtype=np.int32)
    if len(shuffled):
        rng.shuffle_array(shuffled)
    return Instances(arrays, shuffled)


def _rows(rows):
    """`rows` as a C-contiguous int64 array (ValueError for anything but integers)."""
    rows = np.asarray(rows)
    if rows.ndim != 1 or rows.size and rows.dtype.kind not in "iu":
        raise ValueError(f"rows must be a 1-D sequence of instance numbers, got {rows.dtype} of shape {rows.shape}")
    return np.ascontiguousarray(rows, dtype=np.int64)


def feature_arrays(docs, instances, rows, vocab_ids, config):
    """input_ids, lengths, segment-A lengths, masked positions, masked ids (labels), counts and next-sentence
    labels of the instances at `rows` (row numbers of `instances.arrays`). The kernel checks that these
    instances belong to `docs` and `config` (ValueError)."""
    config.validate()
    return materialize(docs.tokens, instances.arrays, _rows(rows),
                       config.max_seq_length, config.max_predictions_per_seq, vocab_ids.cls_id, vocab_ids.sep_id,
                       vocab_ids.mask_id)


def serialize(docs, instances, rows, vocab_ids, config, buffer=None):
    """TFRecord-framed tf.train.Example bytes of the instances at `rows`, in that order. Given a bytearray
    `buffer`, writes into it (growing it) and returns a memoryview that is valid until its next use. Checked as
    feature_arrays is."""
    config.validate()
    return formats.FORMATS["tfrecord"].encode(docs, instances, _rows(rows), vocab_ids, config, buffer)


def encoded_batches(docs, instances, vocab_ids, config, output_format="tfrecord", n_files=1, progress=None):
    """(file number, bytes) pairs that make up `n_files` output files of all instances in output_format's
    encoding (a name of wptk.formats.FORMATS): in their shuffled order, round-robin over the files as the
    reference writes them, a batch at a time. The bytes are a view valid until the next pair: write them first."""
    output_format = formats.get(output_format)
    config.validate()
    buffer = bytearray()
    for start in range(0, len(instances), INSTANCES_PER_BATCH):
        rows = instances.order[start:start + INSTANCES_PER_BATCH]
        for f in range(n_files):
            subset = rows[(f - start) % n_files::n_files]
            if len(subset):
                yield f, output_format.encode(docs, instances, _rows(subset), vocab_ids, config, buffer)
        if progress is not None:
            progress.advance(len(rows))


def write_instances(docs, instances, output_files, vocab_ids, config, gzip=False, progress=None,
                    output_format=None):
    """Writes all instances in their shuffled order, round-robin over `output_files` as the reference does, in
    `output_format` (a name of wptk.formats.FORMATS; by default "tfrecord", or "tfrecord_gzip" with
    `gzip=True`). Files appear atomically: on any error none of them is left behind."""
    if output_format is None:
        output_format = "tfrecord_gzip" if gzip else "tfrecord"
    elif gzip:
        raise ValueError("give output_format or gzip=True, not both")
    writers = []
    try:
        for path in output_files:
            writers.append(formats.FileWriter(path, output_format))
        for f, data in encoded_batches(docs, instances, vocab_ids, config, output_format, len(writers), progress):
            writers[f].write(data)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()


def instance_text(docs, instances, row, inv_vocab, vocab_ids, config):
    """A readable dump of one instance, as the reference logs its first examples."""
    ids, lengths, seg_a, positions, labels, counts, nsp = feature_arrays(docs, instances, [row], vocab_ids, config)
    n, a, c = int(lengths[0]), int(seg_a[0]), int(counts[0])
    tokens = " ".join(inv_vocab.get(int(t), "?") for t in ids[0, :n])
    return (f"tokens: {tokens}\nsegment_ids: {' '.join(['0'] * a + ['1'] * (n - a))}\n"
            f"is_random_next: {bool(nsp[0])}\nmasked_lm_positions: {' '.join(map(str, positions[0, :c]))}\n"
            f"masked_lm_labels: {' '.join(inv_vocab.get(int(t), '?') for t in labels[0, :c])}\n")


@dataclasses.dataclass
class Summary:
    documents: int
    sentences: int
    tokens: int
    instances: int
    masked_tokens: int
    random_next: int
    truncated: int
    seconds: float
    output_files: list
    recipe: dict            # wptk.recipe.counts: what the instances hold, for figures and warnings


def create_pretraining_data(input_files, output_files, tokenizer, config, gzip=False, log_examples=0,
                            decoder=None, show_progress=None, log=print, max_line=MAX_LINE_BYTES, output_format=None):
    """The whole job: the reference's main() with wptk's steps; output files as write_instances writes them.
    Returns a Summary."""
    config.validate()
    vocab_ids = VocabIds.from_vocab(tokenizer.vocab)
    start = time.perf_counter()
    total = sum(os.path.getsize(p) for p in input_files)
    progress = Progress("reading", total=total, enabled=show_progress)
    docs = read_documents(input_files, tokenizer, decoder, progress, max_line)
    tokenizer.release_memory()      # the text is tokenized: its word cache is not needed while building
    progress.close()
    if docs.n_documents == 0:
        raise WptkError("the input has no documents: every line is blank or has no tokens")
    progress = Progress("building", total=docs.n_documents * config.dupe_factor, unit="documents",
                        enabled=show_progress)
    instances = create_instances(docs, vocab_ids, config, progress=progress)
    progress.close()
    for row in instances.order[:log_examples]:
        log("*** Example ***\n" + instance_text(docs, instances, row, tokenizer.inv_vocab, vocab_ids, config))
    progress = Progress("writing", total=len(instances), unit="instances", enabled=show_progress)
    write_instances(docs, instances, output_files, vocab_ids, config, gzip, progress, output_format)
    progress.close()
    return Summary(docs.n_documents, docs.n_sentences, len(docs.tokens), len(instances),
                   instances.n_masked_total, instances.n_random_next, instances.n_truncated,
                   time.perf_counter() - start, list(output_files), recipe.counts(docs, instances, config))
