"""The pretraining-data job as a chain of Beam transforms (`CreatePretrainingData`):

    input files -> ReadDocuments -> DecodeDocuments -> AssignBuckets -> SpillBuckets -> GroupByBucket -> WriteBuckets

ReadDocuments reads the documents that byte ranges of the files own (wptk.reader.range_documents; a splittable
DoFn), DecodeDocuments decodes them as the reference does (and splits sentences on request), AssignBuckets gives
each its bucket by a hash of its text (wptk.buckets), SpillBuckets writes them to spill files in the job's staging
directory and passes on only (file, offset, length) references, so no process holds more than a bucket of text;
WriteBuckets builds each bucket's records with wptk.pretraining, exactly as the command would, and writes them
into the staging directory with the bucket's counts. Batches of documents (up to BATCH_BYTES of text, one spill
file each), not single ones, travel between the steps.
"""
import dataclasses
import json
import os
import tempfile
import uuid
import warnings

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker, UnsplittableRestrictionTracker
from apache_beam.metrics import Metrics

from wptk import buckets, formats, recipe
from wptk import pretraining as pt
from wptk.beam.io import PLAIN, CompressedInput, is_compressed, is_local, open_raw, write_atomic, writing
from wptk.beam import NAMESPACE
from wptk.beam.workers import fast_worker_exit
from wptk.reader import Utf8Decoder, document_text, range_documents

BATCH_BYTES = 16 << 20          # documents travel between the steps, and into spill files, in batches of this much
BUCKET_COUNTS = ("text_documents", "text_bytes", "documents", "sentences", "tokens", "unk_tokens", "instances",
                 "masked_tokens", "random_next", "truncated")
READ_COUNTS = ("documents_read", "dropped_utf8_bytes", "dropped_utf8_lines")
RECIPE_COUNTS = ("single_sentence_documents", "real_tokens", "capped")   # besides those above: wptk.recipe.counts

fast_worker_exit()      # in a local worker process: no interpreter teardown after the job (wptk.beam.workers)


@dataclasses.dataclass(frozen=True)
class JobSettings:
    """What the transforms need to know about the job."""
    config: pt.PretrainingConfig
    num_buckets: int
    split_bytes: int
    max_document_bytes: int
    split_sentences: bool
    strict: bool
    vocab_bytes: bytes
    tokenizer_options: dict
    output_dir: str
    output_format: str          # a name of wptk.formats.FORMATS
    staging: str


class CreatePretrainingData(beam.PTransform):
    """Input files [(path, size)] -> one TFRecord file per bucket (and its counts) in the staging directory."""

    def __init__(self, inputs, settings):
        super().__init__()
        self.inputs, self.s = inputs, settings

    def expand(self, pbegin):
        s = self.s
        ref_type = tuple[int, tuple[str, int, int]]
        refs = (pbegin
                | "InputFiles" >> beam.Create(self.inputs)
                | "ReadDocuments" >> beam.ParDo(ReadDocumentsFn(s.split_bytes, s.max_document_bytes, s.strict))
                | "DecodeDocuments" >> beam.ParDo(DecodeDocumentsFn(s.strict, s.split_sentences))
                | "AssignBuckets" >> beam.Map(assign_buckets, s.config.random_seed, s.num_buckets)
                | "SpillBuckets" >> beam.FlatMap(spill_buckets, s.staging).with_output_types(ref_type))
        every_bucket = (pbegin | "EveryBucket" >> beam.Create([(k, ("", 0, 0)) for k in range(s.num_buckets)])
                        .with_output_types(ref_type))
        return ((refs, every_bucket) | "Flatten" >> beam.Flatten()
                | "GroupByBucket" >> beam.GroupByKey()
                | "WriteBuckets" >> beam.ParDo(WriteBucketFn(s)))


# ------------------------------------------------------------------------------------------------- reading


class WholeFile(OffsetRange):
    """The restriction of a compressed file: its compressed byte range, read whole, never split."""


class ReadDocumentsFn(beam.DoFn, beam.transforms.core.RestrictionProvider):
    """(path, size) -> (path, [(key, raw text)]) batches of the documents that the element's byte range owns
    (wptk.reader.range_documents). A splittable DoFn and its own restriction provider: plain files are split in
    byte ranges of `split_bytes` (and may be split further while read), compressed files are read whole."""

    def __init__(self, split_bytes, max_document_bytes, strict):
        self.split_bytes, self.max_document_bytes, self.strict = split_bytes, max_document_bytes, strict
        self.documents_read = Metrics.counter(NAMESPACE, "documents_read")
        self.dropped_bytes = Metrics.counter(NAMESPACE, "dropped_utf8_bytes")
        self.dropped_lines = Metrics.counter(NAMESPACE, "dropped_utf8_lines")

    def initial_restriction(self, element):
        path, size = element
        return WholeFile(0, size) if is_compressed(path) else OffsetRange(0, size)

    def create_tracker(self, restriction):
        tracker = OffsetRestrictionTracker(restriction)
        return UnsplittableRestrictionTracker(tracker) if isinstance(restriction, WholeFile) else tracker

    def split(self, element, restriction):
        if isinstance(restriction, WholeFile):
            yield restriction
        else:
            yield from restriction.split(self.split_bytes, max(1, self.split_bytes // 4))

    def restriction_size(self, element, restriction):
        return restriction.size()

    def process(self, element, tracker=beam.DoFn.RestrictionParam()):
        path, size = element
        restriction = tracker.current_restriction()
        decoder = Utf8Decoder(strict=self.strict)      # for the blank lines between documents
        if isinstance(restriction, WholeFile):
            if not tracker.try_claim(restriction.start):
                return
            f, start, stop, claim = CompressedInput(path), 0, float("inf"), lambda key: True
        else:
            f, start, stop, claim = open_raw(path), restriction.start, restriction.stop, tracker.try_claim
        batch, batched, n = [], 0, 0
        try:
            for key, raw in range_documents(f, start, stop, claim, path, self.max_document_bytes, decoder):
                batch.append((key, raw))
                batched += len(raw)
                n += 1
                if batched >= BATCH_BYTES:
                    yield path, batch
                    batch, batched = [], 0
        finally:
            f.close()
        if batch:
            yield path, batch
        tracker.try_claim(size)     # at or past the end of the range: marks the range done
        self.documents_read.inc(n)
        self.dropped_bytes.inc(decoder.dropped_bytes)
        self.dropped_lines.inc(decoder.bad_lines)


class DecodeDocumentsFn(beam.DoFn):
    """(path, [(key, raw text)]) -> [UTF-8 text]: each document's lines decoded as the reference decodes them
    (invalid bytes dropped and counted; an error with `strict`), split into sentences with `split_sentences`."""

    def __init__(self, strict, split_sentences):
        self.strict, self.split_sentences = strict, split_sentences
        self.dropped_bytes = Metrics.counter(NAMESPACE, "dropped_utf8_bytes")
        self.dropped_lines = Metrics.counter(NAMESPACE, "dropped_utf8_lines")

    def process(self, element):
        from wptk.sentences import split_sentences
        path, documents = element
        decoder = Utf8Decoder(strict=self.strict)
        splitter = split_sentences if self.split_sentences else None
        yield [document_text(raw, decoder, path, key, splitter) for key, raw in documents]
        self.dropped_bytes.inc(decoder.dropped_bytes)
        self.dropped_lines.inc(decoder.bad_lines)


def assign_buckets(texts, random_seed, num_buckets):
    """[UTF-8 text] -> {bucket: [(digest, text)]} (wptk.buckets: the bucket depends on the seed and text only)."""
    digest_of = buckets.document_digester(random_seed)
    out = {}
    for text in texts:
        digest = digest_of(text)
        out.setdefault(buckets.bucket_of(digest, num_buckets), []).append((digest, text))
    return out


def spill_buckets(documents, staging):
    """{bucket: [(digest, text)]} -> (bucket, (spill file, offset, length)) references: the documents written to a
    new spill file in the staging directory, bucket after bucket. A file is complete before it is referenced; the
    files of a failed attempt are never referenced and go with the staging directory at the end of the job."""
    if not documents:
        return
    path = FileSystems.join(staging, f"{uuid.uuid4().hex}.docs")
    refs, offset = [], 0
    with writing(path):
        f = FileSystems.create(path, compression_type=PLAIN)
        try:
            for bucket in sorted(documents):
                blob = buckets.pack_documents(documents[bucket])
                f.write(blob)
                refs.append((bucket, (path, offset, len(blob))))
                offset += len(blob)
        finally:
            f.close()
    yield from refs


def read_spilled(refs):
    """The (digest, text) documents that (file, offset, length) references point to, one open per file."""
    by_file = {}
    for path, offset, length in refs:
        if length:
            by_file.setdefault(path, []).append((offset, length))
    for path in sorted(by_file):
        with FileSystems.open(path, compression_type=PLAIN) as f:
            for offset, length in sorted(by_file[path]):
                f.seek(offset)
                blob = f.read(length)
                if len(blob) != length:
                    raise IOError(f"{path}: spill file is shorter than expected ({offset} + {length})")
                yield from buckets.unpack_documents(blob)


# ------------------------------------------------------------------------------------------------- writing


def output_name(bucket, num_buckets, output_format):
    return f"train-{bucket:05d}-of-{num_buckets:05d}{formats.get(output_format).suffix}"


def stats_name(bucket):
    return f"stats-{bucket:05d}.json"


class WriteBucketFn(beam.DoFn):
    """(bucket, spill references) -> the bucket's TFRecord file and its counts (a JSON file) in the staging
    directory, built with wptk.pretraining's functions and the bucket's own seed."""

    def __init__(self, settings):
        self.s = settings
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in BUCKET_COUNTS}
        self.bucket_documents = Metrics.distribution(NAMESPACE, "bucket_documents")
        self.bucket_bytes = Metrics.distribution(NAMESPACE, "bucket_bytes")

    def setup(self):
        self.tokenizer, self.vocab_ids = load_tokenizer(self.s.vocab_bytes, self.s.tokenizer_options)
        self.unk_id = self.tokenizer.vocab.get("[UNK]", -1)

    def process(self, element):
        bucket, refs = element
        documents = list(read_spilled(refs))
        n_text, text_bytes = len(documents), sum(len(t) for _, t in documents)
        docs = pt.documents_from_lines(buckets.bucket_lines(documents), self.tokenizer)
        del documents
        # As the command does after tokenizing: free the word cache, which would otherwise grow with every bucket
        # this worker tokenizes (up to ~40 MB), so that a worker's memory is set by its bucket alone.
        self.tokenizer.release_memory()
        config = dataclasses.replace(self.s.config, random_seed=buckets.bucket_seed(self.s.config.random_seed, bucket))
        instances = pt.create_instances(docs, self.vocab_ids, config) if docs.n_documents else None
        self.write(bucket, docs, instances, config)
        stats = {**recipe.counts(docs, instances, config), "bucket": bucket, "text_documents": n_text,
                 "text_bytes": text_bytes, **bucket_counts(docs, instances, self.unk_id)}
        # The bucket's counts, also as a file: exact on any runner (with or without metrics, retries included),
        # and the driver's proof that every bucket completed.
        write_atomic(FileSystems.join(self.s.staging, stats_name(bucket)), [json.dumps(stats).encode("utf-8")])
        for name in BUCKET_COUNTS:
            self.counters[name].inc(stats[name])
        self.bucket_documents.update(n_text)
        self.bucket_bytes.update(text_bytes)

    def write(self, bucket, docs, instances, config):
        """The bucket's records into the staging directory (the driver moves every bucket into output_dir once
        all are complete); an error names the file the user asked for."""
        name = output_name(bucket, self.s.num_buckets, self.s.output_format)
        path, final = FileSystems.join(self.s.staging, name), FileSystems.join(self.s.output_dir, name)
        instances = instances or _NO_INSTANCES
        if is_local(path):
            with writing(final):
                pt.write_instances(docs, instances, [path], self.vocab_ids, config, output_format=self.s.output_format)
        else:
            batches = pt.encoded_batches(docs, instances, self.vocab_ids, config, self.s.output_format)
            write_atomic(path, (data for _, data in batches), formats.get(self.s.output_format).open, shown=final)


def bucket_counts(docs, instances, unk_id):
    """A bucket's documents, sentences, tokens, [UNK]s, instances and what the instances did."""
    built = instances is not None
    return {"documents": docs.n_documents, "sentences": docs.n_sentences, "tokens": len(docs.tokens),
            "unk_tokens": int((docs.tokens == unk_id).sum()),
            "instances": len(instances) if built else 0, "masked_tokens": instances.n_masked_total if built else 0,
            "random_next": instances.n_random_next if built else 0,
            "truncated": instances.n_truncated if built else 0}


class _NoInstances:
    order = ()

    def __len__(self):
        return 0


_NO_INSTANCES = _NoInstances()


def load_tokenizer(vocab_bytes, options, vocab_name="vocab"):
    """FullTokenizer and VocabIds from the vocab file's bytes (workers may not see the driver's files)."""
    from wptk.tokenization import FullTokenizer
    fd, tmp = tempfile.mkstemp(suffix=".vocab.txt")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(vocab_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # the case check warned once on the driver
            tokenizer = FullTokenizer(tmp, **options)
    finally:
        os.unlink(tmp)
    return tokenizer, pt.VocabIds.from_vocab(tokenizer.vocab, vocab_name)


# ------------------------------------------------------------------------------------------------- counts


def collect_bucket_stats(staging, num_buckets):
    """The per-bucket counts the buckets wrote; WptkError naming a bucket that did not complete."""
    from wptk.beam.io import read_json
    from wptk.errors import WptkError
    stats = []
    for k in range(num_buckets):
        path = FileSystems.join(staging, stats_name(k))
        try:
            stats.append(read_json(path))
        except Exception:
            raise WptkError(f"bucket {k} did not complete (no {path}), although the runner reported success") \
                from None
    return stats


def job_counts(stats, metrics):
    """The summary's counts: sums of the per-bucket counts (exact on every runner), bucket sizes, and the
    reading counts that only Beam metrics carry (None where the runner has no metrics)."""
    counts = {name: sum(s[name] for s in stats) for name in BUCKET_COUNTS}
    counts["recipe"] = {name: sum(s[name] for s in stats) for name in RECIPE_COUNTS}
    counts["empty_buckets"] = sum(1 for s in stats if s["instances"] == 0)
    for name in ("text_documents", "text_bytes"):
        values = [s[name] for s in stats]
        counts["bucket_" + name.split("_")[1]] = {"min": min(values), "max": max(values),
                                                  "mean": round(sum(values) / len(values), 1)}
    for name in READ_COUNTS:
        counts[name] = metrics[name] if metrics else None
    return counts
