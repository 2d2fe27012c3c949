"""What a pretraining-data run will make and need, predicted from a sample of its input (`--plan`).

1. Sample. An input of at most SMALL_INPUT bytes is read whole. A larger one is read in WINDOWS byte windows
   spread evenly over its files (together about 1% of it, at least MIN_SAMPLE bytes); each window starts at the
   first document that begins in it and reads whole documents until it holds its share. Compressed files are read
   from their start (they cannot be entered in the middle), their text size estimated from the ratio read so far.
2. Run the real kernels on the sample: tokenize, build instances with the run's flags, encode the records (and
   GZIP them), timing each step on this core.
3. Scale by (input bytes / sampled bytes): documents, instances, output bytes and seconds grow with the text
   (the seconds add this process's start-up CPU, and leave out the disk's time to write the output).
   Memory is modelled from what the sample measured: the process's own size with the vocab loaded, the word cache
   the tokenizer filled, and per input byte the token arrays (held twice while they are joined), the instance
   table, and the encoding buffer. A pipeline worker holds one bucket (the input / --num_buckets) and Beam's
   worker harness (WORKER_BASE_BYTES, measured on Linux with Beam's FnApiRunner).
"""
import os
import resource
import time
import zlib

import numpy as np

from wptk import pretraining as pt
from wptk.progress import format_bytes
from wptk.reader import READ_CHUNK, Utf8Decoder, decompressor, line_blocks

SMALL_INPUT = 4 << 20
MIN_SAMPLE = 1 << 20
SAMPLE_SHARE = 0.01
WINDOWS = 64
WORKER_BASE_BYTES = 170 << 20        # a local Beam worker process before its first bucket (README, Beam section)


def _rss():
    """This process's resident memory now, in bytes (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _documents_from(f, start, budget, limit):
    """Raw text of the whole documents (blank-line separated) from the first one that starts at or after byte
    `start` of binary file `f`, until at least `budget` bytes are read (the document under way is finished, up to
    `limit` bytes in all). Returns (text, bytes covered)."""
    lines, taken, skipping = [], 0, start > 0       # the document under way belongs to the window before
    for _, block in line_blocks(f, start, chunk_size=min(READ_CHUNK, max(budget, 4096))):
        for line in _split_lines(block):
            if skipping:
                skipping = bool(line.strip())
                continue
            lines.append(line)
            taken += len(line)
            if taken >= limit or (taken >= budget and not line.strip()):
                return b"".join(lines), taken
    return b"".join(lines), taken


def _split_lines(block):
    """The lines of a block, each with its "\n"."""
    start = 0
    while start < len(block):
        end = block.find(b"\n", start) + 1 or len(block)
        yield block[start:end]
        start = end


def sample_input(input_files, sample_bytes=None):
    """(raw text chunks of whole documents, sampled bytes, estimated input text bytes): all of a small input, else
    windows."""
    sizes = [os.path.getsize(p) for p in input_files]
    total = sum(sizes)
    if sample_bytes is None:
        sample_bytes = total if total <= SMALL_INPUT else max(MIN_SAMPLE, int(SAMPLE_SHARE * total))
    chunks, sampled, text_total = [], 0, 0
    for path, size in zip(input_files, sizes):
        share = sample_bytes * size // max(total, 1)
        decompress = decompressor(path)
        with open(path, "rb") as raw:
            if decompress:
                f = decompress(raw)
                text = b"".join(block for _, block in line_blocks(f, 0, max(share, 1)))
                consumed = max(raw.tell(), 1)
                text_total += int(len(text) * size / consumed) if consumed < size else len(text) + len(f.read())
                chunks.append(text)
                sampled += len(text)
                continue
            text_total += size
            if share >= size:
                chunks.append(raw.read())
                sampled += size
                continue
            windows = max(1, min(WINDOWS, share // 4096))
            for k in range(windows):
                text, taken = _documents_from(raw, size * k // windows, share // windows, 4 * share // windows + 4096)
                chunks.append(text)
                sampled += taken
    return chunks, max(sampled, 1), text_total


def plan(input_files, tokenizer, config, gzip=False, num_buckets=None, batch_size=256, worker_memory=None,
         sample_bytes=None, split_sentences=None):
    """The prediction for `wptk create-pretraining-data` (and the pipeline with `num_buckets`, its worker memory
    limit `worker_memory` and its sentence splitter `split_sentences`) on these inputs, as a dict; see the module
    docstring for how it is made."""
    config.validate()
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    base_rss = _reset_peak()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    startup = usage.ru_utime + usage.ru_stime     # the CPU this process took to start and load the vocab
    clock = time.perf_counter()
    chunks, sampled, text_bytes = sample_input(input_files, sample_bytes)
    docs = pt.documents_from_lines(_lines(chunks, split_sentences), tokenizer)
    tokenizer.release_memory()          # as the command does after reading
    seconds = time.perf_counter() - clock
    scale = text_bytes / sampled
    result = {"input_bytes": text_bytes, "sampled_bytes": sampled, "scale": scale}
    if docs.n_documents == 0:
        return dict(result, documents=0, instances=0, output_bytes=0, output_bytes_gzip=0, peak_rss_bytes=base_rss,
                    seconds_one_core=0.0)
    clock = time.perf_counter()
    instances = pt.create_instances(docs, vocab_ids, config)
    output_bytes, gzip_bytes, gzip_seconds = _encoded_size(docs, instances, vocab_ids, config)
    seconds += time.perf_counter() - clock - (0 if gzip else gzip_seconds)
    # What grows with the text: the corpus (twice while its chunks are joined) or the corpus and the instances.
    corpus_bytes = docs.tokens.nbytes + docs.sentences.nbytes + docs.documents.nbytes
    table_bytes = sum(a.nbytes for a in instances.arrays.values() if isinstance(a, np.ndarray)) + \
        instances.order.nbytes
    per_sampled_byte = max(2 * corpus_bytes, corpus_bytes + table_bytes) / sampled
    sample_peak = _peak() - base_rss          # the sample's own run: fixed costs and its share of the growth
    result.update(
        documents=round(docs.n_documents * scale), sentences=round(docs.n_sentences * scale),
        tokens=round(len(docs.tokens) * scale), instances=round(len(instances) * scale),
        output_bytes=round(output_bytes * scale), output_bytes_gzip=round(gzip_bytes * scale),
        peak_rss_bytes=int(base_rss + sample_peak + per_sampled_byte * (text_bytes - sampled)),
        peak_rss_of="wptk create-pretraining-data", seconds_one_core=round(startup + seconds * scale, 3),
        steps_per_epoch={"batch_size": batch_size, "steps": round(len(instances) * scale) // batch_size})
    if num_buckets:
        bucket = max(text_bytes / num_buckets, sampled)
        fixed = WORKER_BASE_BYTES + sample_peak - per_sampled_byte * sampled
        result.update(peak_rss_bytes=int(fixed + per_sampled_byte * bucket), peak_rss_of="a pipeline worker",
                      num_buckets=num_buckets)
        if worker_memory:
            room = worker_memory - fixed
            result["worker_memory_limit"] = worker_memory
            result["num_buckets_for_limit"] = int(np.ceil(per_sampled_byte * text_bytes / room)) if room > 0 else None
    return result


def _lines(chunks, split_sentences=None):
    """The decoded lines of the sampled chunks, a blank line after each (a chunk ends a document)."""
    decoder = Utf8Decoder()
    for chunk in chunks:
        for raw in chunk.split(b"\n"):
            line = decoder.decode(raw, "sample")
            if split_sentences is None or not line.strip():
                yield line
            else:
                yield from split_sentences(line)
        yield ""


def _encoded_size(docs, instances, vocab_ids, config):
    """(bytes of the encoded records, bytes GZIP-compressed, seconds the compression took)."""
    buffer = bytearray()
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)             # GZIP at the writer's level
    plain = packed = 0
    gzip_seconds = 0.0
    for start in range(0, len(instances), pt.INSTANCES_PER_BATCH):
        framed = pt.serialize(docs, instances, instances.order[start:start + pt.INSTANCES_PER_BATCH], vocab_ids,
                              config, buffer)
        plain += len(framed)
        clock = time.perf_counter()
        packed += len(compressor.compress(framed))
        gzip_seconds += time.perf_counter() - clock
    return plain, packed + len(compressor.flush()), gzip_seconds


def _status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(field)


def _reset_peak():
    """Resets this process's peak resident memory (Linux: /proc/self/clear_refs) and returns it, i.e. now's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_bytes("VmHWM")
    except OSError:
        return _rss()


def _peak():
    """The peak resident memory since _reset_peak (where it cannot be reset, now's)."""
    try:
        return _status_bytes("VmHWM")
    except OSError:
        return _rss()


def plan_text(p, prog):
    """The plan for a terminal."""
    lines = [f"{prog}: plan from {format_bytes(p['sampled_bytes'])} of {format_bytes(p['input_bytes'])} of text "
             f"({100 * min(1.0, p['sampled_bytes'] / max(p['input_bytes'], 1)):.0f}%); nothing written",
             f"  ~{p['documents']:,} documents -> ~{p['instances']:,} instances; output ~{format_bytes(p['output_bytes'])}"
             f" (~{format_bytes(p['output_bytes_gzip'])} with --gzip)",
             f"  peak memory of {p['peak_rss_of']} ~{format_bytes(p['peak_rss_bytes'])}"
             + (f" with --num_buckets={p['num_buckets']}" if "num_buckets" in p else "")
             + f"; ~{p['seconds_one_core']:,.1f} s on one core"]
    if "worker_memory_limit" in p:
        limit = format_bytes(p["worker_memory_limit"])
        lines.append(f"  --num_buckets={p['num_buckets_for_limit']} or more keeps a worker under {limit}"
                     if p["num_buckets_for_limit"] else f"  no bucket count keeps a worker under {limit}")
    steps = p.get("steps_per_epoch")
    if steps:
        lines.append(f"  ~{steps['steps']:,} training steps per pass over the records at batch size "
                     f"{steps['batch_size']}")
    return "\n".join(lines)
