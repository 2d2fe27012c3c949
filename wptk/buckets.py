"""Documents into buckets, reproducibly: a document's bucket and its place in it depend only on the seed and its
text, and bucket k is built with its own seed, so a bucket's records are what `wptk create-pretraining-data
--random_seed=bucket_seed(seed, k)` writes for the bucket's text (`bucket_lines`), on any runner and worker count.
Documents travel between the steps packed into bytes (`pack_documents`)."""
import hashlib
import struct


def document_digest(random_seed, text_bytes):
    """blake2b-128 of b"%d\\n" % random_seed + the document's UTF-8 text: its bucket and its place in it."""
    return document_digester(random_seed)(text_bytes)


def document_digester(random_seed):
    """document_digest for one seed, as a function of the text alone: the seed's part of the hash is done once,
    for a reader's many documents."""
    seeded = hashlib.blake2b(b"%d\n" % random_seed, digest_size=16)

    def digest(text_bytes):
        h = seeded.copy()
        h.update(text_bytes)
        return h.digest()
    return digest


def bucket_of(digest, num_buckets):
    return int.from_bytes(digest[:8], "big") % num_buckets


def bucket_seed(random_seed, bucket):
    """The random_seed bucket `bucket` is built with: blake2b-64 of b"wptk-bucket-seed:%d:%d", >> 1."""
    digest = hashlib.blake2b(b"wptk-bucket-seed:%d:%d" % (random_seed, bucket), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


RECORD_HEAD = struct.Struct("<16sI")


def pack_documents(items):
    """One bytes batch of (digest, UTF-8 text) items: 16-byte digest, uint32 LE length, text; repeated."""
    return b"".join(RECORD_HEAD.pack(d, len(t)) + t for d, t in items)


def unpack_documents(blob):
    out, pos, n = [], 0, len(blob)
    while pos < n:
        digest, length = RECORD_HEAD.unpack_from(blob, pos)
        pos += RECORD_HEAD.size
        out.append((digest, blob[pos:pos + length]))
        pos += length
    return out


def bucket_lines(documents):
    """The text lines of (digest, text) documents in canonical order: sorted by (digest, text), each document's
    lines followed by one blank line. Exactly the lines of the text file that reproduces a bucket."""
    texts = [text for _, text in sorted(documents)]
    return (b"\n\n".join(texts) + b"\n").decode("utf-8").split("\n") if texts else []
