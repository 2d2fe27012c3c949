"""The Beam pipeline's documents on their way to buckets: sentence splitting, the documented digests and bucket
seeds, and the packed batches of documents."""

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from wptk.buckets import (bucket_lines, bucket_of, bucket_seed, document_digest, pack_documents,  # noqa: E402
                          unpack_documents)
from wptk.sentences import split_sentences  # noqa: E402
from wptk.beam.testing import digest_of, documented_bucket_seed, run  # noqa: E402


@pytest.mark.parametrize("paragraph, sentences", [
    ("Mr. Smith came. He sat down! Did he? Yes.", ["Mr. Smith came.", "He sat down!", "Did he?", "Yes."]),
    ("Use tools, e.g. hammers, i.e. heavy ones. Fine.", ["Use tools, e.g. hammers, i.e. heavy ones.", "Fine."]),
    ("J. R. R. Tolkien wrote. The U.S. Army marched.", ["J. R. R. Tolkien wrote.", "The U.S. Army marched."]),
    ('"Really?" she asked. \u201cYes.\u201d He left.', ['"Really?" she asked.', "\u201cYes.\u201d", "He left."]),
    ("at 3 p.m. on Monday. Version 3.5 is out... Then more.",
     ["at 3 p.m. on Monday.", "Version 3.5 is out...", "Then more."]),
    ("\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u5427\uff01\u4f60\u6765\u5417\uff1f\u597d",
     ["\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002", "\u6211\u4eec\u53bb\u5427\uff01", "\u4f60\u6765\u5417\uff1f",
      "\u597d"]),
    ("\u092f\u0939 \u0939\u0948\u0964 \u0935\u0939 \u0939\u0948\u0965 \u0905\u0902\u0924",
     ["\u092f\u0939 \u0939\u0948\u0964", "\u0935\u0939 \u0939\u0948\u0965", "\u0905\u0902\u0924"]),
    ("\u0647\u0644 \u0623\u0646\u062a\u061f \u0646\u0639\u0645.", ["\u0647\u0644 \u0623\u0646\u062a\u061f",
                                                                  "\u0646\u0639\u0645."]),
    ("no punctuation at all", ["no punctuation at all"]),
    ("  spaced.   Out.  ", ["spaced.", "Out."]),
])
def test_split_sentences(paragraph, sentences):
    assert split_sentences(paragraph) == sentences


def test_split_sentences_flag(tmp_path):
    (tmp_path / "p.txt").write_text("One here. Two there! Three?\nFour.\n\nFive. Six.\n", encoding="utf-8")
    summary, _ = run(tmp_path, tmp_path / "p.txt", "out", "--split_sentences")
    assert summary["counts"]["documents"] == 2 and summary["counts"]["sentences"] == 6
    summary, _ = run(tmp_path, tmp_path / "p.txt", "out2")
    assert summary["counts"]["sentences"] == 3


def test_hash_and_seed_derivation_are_the_documented_ones():
    assert document_digest(7, b"a\nb") == digest_of(7, ["a", "b"])
    for n, text in enumerate(["a", "Hello.", "x\ny", "\u00e9\u6771"]):
        digest = digest_of(n, [text])
        for buckets in (7, 10, 16):
            assert bucket_of(digest, buckets) == int.from_bytes(digest[:8], "big") % buckets, (text, buckets)
    assert [bucket_seed(12345, k) for k in range(3)] == [documented_bucket_seed(12345, k) for k in range(3)]
    # pinned: changing the derivation changes every output file, so it must be deliberate
    assert bucket_seed(12345, 0) == 3293689750638862160
    assert digest_of(12345, ["Hello."]).hex()[:16] == "064ccd2f7d5ba185"


def test_batches_round_trip():
    items = [(bytes(range(16)), "x\ny".encode()), (b"\xff" * 16, b""), (b"\x00" * 16, "\u00e9".encode())]
    assert unpack_documents(pack_documents(items)) == items
    assert list(bucket_lines(items)) == ["\u00e9", "", "x", "y", "", "", ""]   # by digest, then text
