"""The Beam pipeline's reader: byte ranges that read every document once, at every split point; blank lines as
str.strip() sees them; the document size limit; compressed and invalid UTF-8 input; another Beam filesystem."""
import bz2
import gzip
import io
import json
import lzma
import os
import random
import shutil

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from apache_beam.io.filesystem import FileMetadata  # noqa: E402
from apache_beam.io.localfilesystem import LocalFileSystem  # noqa: E402
from wptk import reader  # noqa: E402
from wptk.beam.testing import BUCKETS, corpus_text, outputs, run  # noqa: E402
from wptk.errors import WptkError  # noqa: E402
from wptk.reader import Utf8Decoder  # noqa: E402


def unsplit_documents(data):
    """Documents of a file's bytes, independently: lines on \\n, invalid UTF-8 dropped, blank = strip() empty."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    docs, current = [], []
    for raw in lines:
        text = raw.decode("utf-8", "ignore")
        if text.strip():
            current.append(text)
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs


def read_documents(f, start, stop, claim, decoder, path="", max_document_bytes=None):
    """(key, decoded lines) of the documents the byte range [start, stop) of `f` owns."""
    for key, raw in reader.range_documents(f, start, stop, claim, path, max_document_bytes):
        yield key, reader.document_lines(raw, decoder, path, key)


def split_documents(data, points):
    """The documents the ranges between `points` read, in range order; checks claims as a tracker would."""
    bounds = [0] + sorted(set(points) - {0, len(data)}) + [len(data)]
    found = []
    for start, stop in zip(bounds, bounds[1:]):
        last = []

        def claim(key, start=start, stop=stop, last=last):
            assert not last or key > last[-1], "claims must strictly increase"
            assert key >= start
            last.append(key)
            return key < stop

        found.extend(lines for _, lines in read_documents(io.BytesIO(data), start, stop, claim, Utf8Decoder()))
    return found


EDGE_FILES = [
    b"",
    b"\n",
    b"\n\n\n",
    b"one",
    b"one\ntwo",
    b"one\n\ntwo",
    b"one\n\n\n\ntwo\n",
    b"one\r\n\r\ntwo\r\nthree\r\n",
    b"\r\n\r\none\r\n",
    "caf\u00e9 \u65e5\u672c\n\n\u00e9\u00e9\u00e9\u00e9\n \n\u65e5\n".encode("utf-8"),
    "a\n\u3000\nb\n\x1c\nc\n\u2028x\n \t \nd".encode("utf-8"),
    b"a\n\xff\xfe\nb\n\xe2\x82\nc\xff\n\n\nd",
    b"\n\nlast line without newline",
    b"x" * 50 + b"\n\n" + b"y" * 50,
]


@pytest.mark.parametrize("data", EDGE_FILES)
def test_every_split_point_reads_every_document_once(data):
    expected = unsplit_documents(data)
    for point in range(len(data) + 1):
        assert split_documents(data, [point]) == expected, point
    every = list(range(len(data) + 1))
    assert split_documents(data, every) == expected


def test_random_files_and_split_sets():
    rnd = random.Random(5)
    pieces = ["a", "bb c", "\u00e9", "\u65e5\u672c\u8a9e", "\r", " ", "\t", "\u3000", "\x1c", "\udcff", "\u2028",
              "", "\x00"]
    for _ in range(400):
        lines = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4))) for _ in range(rnd.randint(0, 14))]
        data = "\n".join(lines).encode("utf-8", "surrogateescape") + (b"\n" if rnd.random() < 0.5 else b"")
        expected = unsplit_documents(data)
        for point in range(len(data) + 1):
            assert split_documents(data, [point]) == expected, (data, point)
        for _ in range(10):
            points = rnd.sample(range(len(data) + 1), min(len(data) + 1, rnd.randint(1, 8)))
            assert split_documents(data, points) == expected, (data, points)


def test_large_lines_are_read_across_chunks(monkeypatch):
    monkeypatch.setattr(reader, "READ_CHUNK", 7)
    data = ("\u00e9" * 40 + "\n" + "x" * 33 + "\n\n" + "y\r\n" * 5 + "\n\n\nz").encode("utf-8")
    expected = unsplit_documents(data)
    for point in range(len(data) + 1):
        assert split_documents(data, [point]) == expected


def _blank_lines_by_decoding(block):
    """The oracle: the lines of `block` (split on "\\n", none after a final one) that str.strip() leaves empty once
    decoded as the reference decodes (invalid UTF-8 dropped)."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    spans, start = [], 0
    for line in lines:
        if not line.decode("utf-8", "ignore").strip():
            spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def test_blank_lines_are_what_str_strip_leaves_empty():
    """The native scan agrees with decoding and str.strip() for every code point, alone, around a word, after
    spaces and next to invalid bytes; and on random lines of spaces, words and broken sequences."""
    from wptk._native.lines import blank_lines
    variants = []
    for cp in range(0x110000):
        if not 0xD800 <= cp < 0xE000:
            c = chr(cp).encode("utf-8")
            variants += [c, b" \t" + c + b"\r", c + b"\xff", b"\xe2\x80" + c, c[:-1] + b" " if len(c) > 1 else c]
    block = b"\n".join(variants)
    assert blank_lines(block) == _blank_lines_by_decoding(block)
    assert [chr(cp) for cp in range(0x3001, 0x110000) if chr(cp).isspace()] == []   # the scan's table ends there
    pieces = [b"\n", b" ", b"a", b"\t", b"\r", b"\x0b", b"\x1c", b"\x85", b"\xc2\x85", b"\xc2\xa0", b"\xe3\x80\x80",
              b"\xe1\x9a\x80", b"\xc2", b"\xe2\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\xf4\x90\x80\x80", b"\xff",
              b"\xc0\x80", b"\xc1\xa1", b"\xe0\x81\x81", b"\xe0\x80\xa0", b"\xf0\x80\x81\x81"]    # overlong forms
    rng = random.Random(5)
    for _ in range(20000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert blank_lines(block) == _blank_lines_by_decoding(block), block


def test_document_size_limit():
    data = b"a\n" * 100 + b"\n" + b"b\n"
    with pytest.raises(WptkError, match="larger than --max_document_mb"):
        list(read_documents(io.BytesIO(data), 0, len(data), lambda k: True, Utf8Decoder(), "f.txt", 150))
    line = b"x" * 5000
    with pytest.raises(WptkError, match="f.txt: the document at byte 0 is larger"):
        list(read_documents(io.BytesIO(line), 0, len(line), lambda k: True, Utf8Decoder(), "f.txt", 1000))
    assert len(list(read_documents(io.BytesIO(data), 0, len(data), lambda k: True, Utf8Decoder(), "f",
                                       300))) == 2


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_truncated_or_corrupt_compressed_input_is_an_error_not_a_shorter_corpus(tmp_path, docs, suffix, compress):
    """Beam's own reader ends a truncated .gz early without a word; the pipeline must not lose the rest silently."""
    whole = compress(corpus_text(docs).encode("utf-8"))
    (tmp_path / f"cut.txt{suffix}").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(WptkError, match=f"cannot read .*cut.txt{suffix}: Compressed file ended before the "
                                        "end-of-stream marker was reached"):
        run(tmp_path, tmp_path / f"cut.txt{suffix}", "out", "--check_text=false")
    (tmp_path / f"plain.txt{suffix}").write_bytes(corpus_text(docs).encode("utf-8"))
    with pytest.raises(WptkError, match=f"cannot read .*plain.txt{suffix}: "):
        run(tmp_path, tmp_path / f"plain.txt{suffix}", "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("split_mb", ["0", "0.002"])
def test_dropped_utf8_bytes_are_counted_as_the_command_counts_them(tmp_path, split_mb):
    """Blank lines too: a line of spaces and invalid bytes is blank, and its bytes are dropped all the same."""
    rnd = random.Random(3)
    lines = []
    for i in range(3000):
        kind = rnd.random()
        lines.append(b"" if kind < 0.2 else b" \xff\xfe " if kind < 0.3 else
                     bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 30))).replace(b"\n", b""))
    (tmp_path / "binary.txt").write_bytes(b"\n".join(lines) + b"\n")
    decoder = Utf8Decoder()
    from wptk.reader import read_lines
    list(read_lines(str(tmp_path / "binary.txt"), decoder))
    summary, _ = run(tmp_path, tmp_path / "binary.txt", "out", "--check_text=false", f"--input_split_mb={split_mb}")
    counts = summary["counts"]
    assert (counts["dropped_utf8_bytes"], counts["dropped_utf8_lines"]) == (decoder.dropped_bytes, decoder.bad_lines)
    (tmp_path / "blank.txt").write_bytes(b"The cat sat.\n\xff \nThe mat.\n")
    with pytest.raises(WptkError, match="blank.txt: the blank line at byte 13: invalid UTF-8"):
        run(tmp_path, tmp_path / "blank.txt", "strict", "--errors=strict")


def test_invalid_utf8_is_dropped_and_counted_as_the_reference_does(tmp_path, docs, capsys):
    text = corpus_text(docs[:10]).encode("utf-8")
    bad = text.replace(b"the ", b"th\xffe ", 5).replace(b"was", b"w\xe2\x82as", 3)
    assert len(bad) == len(text) + 5 + 6
    (tmp_path / "bad.txt").write_bytes(bad)
    (tmp_path / "good.txt").write_bytes(text)
    summary, out_bad = run(tmp_path, tmp_path / "bad.txt", "bad")
    assert "dropped 11 invalid UTF-8 byte(s)" in capsys.readouterr().err
    _, out_good = run(tmp_path, tmp_path / "good.txt", "good")
    assert summary["counts"]["dropped_utf8_bytes"] == 11 and summary["counts"]["dropped_utf8_lines"] >= 1
    assert outputs(out_bad) == outputs(out_good)
    with pytest.raises(WptkError, match=r"bad.txt: the document at byte [\d,]+: invalid UTF-8"):
        run(tmp_path, tmp_path / "bad.txt", "strict", "--errors=strict")
    assert not (tmp_path / "strict").exists()


class PrefixFileSystem(LocalFileSystem):
    """A Beam filesystem with scheme wptktest:// over a local directory, so that reading and writing go through
    FileSystems paths that are not local paths (as gs:// or s3:// would)."""

    ROOT = None
    PREFIX = "wptktest://"

    @classmethod
    def scheme(cls):
        return "wptktest"

    def _local(self, path):
        assert path.startswith(self.PREFIX), path
        return os.path.join(self.ROOT, path[len(self.PREFIX):])

    def _remote(self, local):
        return self.PREFIX + os.path.relpath(local, self.ROOT).replace(os.sep, "/")

    def join(self, base, *paths):
        return "/".join([base.rstrip("/")] + [p.strip("/") for p in paths])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def _url_dirname(self, path):
        return path.rpartition("/")[0]

    def has_dirs(self):
        return True

    def _list(self, prefix):
        root = self._local(prefix)
        for directory, _, names in os.walk(root):
            for name in names:
                local = os.path.join(directory, name)
                yield FileMetadata(self._remote(local), os.path.getsize(local), os.path.getmtime(local))

    def metadata(self, path):
        local = self._local(path)
        return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

    def mkdirs(self, path):
        os.makedirs(self._local(path), exist_ok=True)

    def create(self, path, *args, **kwargs):
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def copy(self, sources, destinations):
        return super().copy([self._local(p) for p in sources], [self._local(p) for p in destinations])

    def rename(self, sources, destinations):
        return super().rename([self._local(p) for p in sources], [self._local(p) for p in destinations])

    def exists(self, path):
        return os.path.exists(self._local(path))

    def size(self, path):
        return os.path.getsize(self._local(path))

    def last_updated(self, path):
        return os.path.getmtime(self._local(path))

    def checksum(self, path):
        return super().checksum(self._local(path))

    def delete(self, paths):
        for path in paths:
            local = self._local(path)
            if os.path.isdir(local):
                shutil.rmtree(local)
            else:
                os.remove(local)


def test_inputs_and_outputs_on_another_filesystem(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(PrefixFileSystem, "ROOT", str(tmp_path))
    (tmp_path / "in").mkdir()
    data = corpus.read_bytes()
    (tmp_path / "in" / "corpus.txt").write_bytes(data[: len(data) // 2])
    (tmp_path / "in" / "rest.txt.gz").write_bytes(gzip.compress(data[len(data) // 2:]))
    remote, _ = run(tmp_path, "wptktest://in/*", "unused", "--gzip", "--input_split_mb=0.01",
                    "--output_dir=wptktest://remote/out")
    local, _ = run(tmp_path, f"{tmp_path}/in/*", "local", "--gzip")
    assert remote["output_dir"] == "wptktest://remote/out"
    got = outputs(tmp_path / "remote" / "out")
    assert len(got) == BUCKETS and got == outputs(tmp_path / "local")
    assert remote["counts"] == local["counts"]
    assert json.loads((tmp_path / "remote" / "out" / "summary.json").read_text())["counts"] == remote["counts"]
    left = sorted(p.name for p in (tmp_path / "remote" / "out").rglob("*") if p.is_file())
    assert left == sorted(remote["output_files"] + ["summary.json"])   # no temporary or spill files left
