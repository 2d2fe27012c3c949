"""Sentences of a paragraph, for input with one paragraph per line (the pipeline's --split_sentences)."""
# Sentence ends: a run of terminal punctuation (Unicode Sentence_Break STerm/ATerm: . ! ? and their full-width,
# CJK, Devanagari, Arabic, Ethiopic, ... forms, plus the ellipsis), optional closing quotes/brackets, then
# whitespace; CJK full-width stops need no space after them.
_SENTENCE_END = None
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt ft vs etc cf al approx dept est fig figs vol vols no nos pp p ch sec ed eds
inc ltd co corp bros gen col capt lt sgt rev hon gov sen rep pres jan feb mar apr jun jul aug sep sept oct nov dec
""".split())


def _sentence_end():
    global _SENTENCE_END
    if _SENTENCE_END is None:
        import regex
        _SENTENCE_END = regex.compile(
            r"(?P<cjk>[。！？｡]+[\p{SB=Close}]*\s*)"
            r"|(?P<term>[\p{SB=STerm}\p{SB=ATerm}\u2026]+)(?P<close>[\p{SB=Close}]*)\s+(?=\S)")
    return _SENTENCE_END


def split_sentences(paragraph):
    """Sentences of one paragraph, stripped, in order; rule-based and Unicode-aware, deliberately simple.

    A sentence ends after terminal punctuation (Unicode Sentence_Break STerm or ATerm, e.g. . ! ? 。 ！ ？ । ॥ ؟
    ። and the ellipsis …), optionally followed by closing quotes or brackets, when whitespace follows; after the
    CJK full-width stops 。！？｡ also without whitespace. Not after a single "." that ends a known abbreviation
    (Mr. Dr. etc. e.g. i.e. ...: ABBREVIATIONS, or any word with an inner ".", like U.S.) or a single letter
    (initials: J. R. R. Tolkien), and never before a lowercase letter.
    """
    pieces, begin = [], 0
    for m in _sentence_end().finditer(paragraph):
        end = m.end()
        if m.group("term") is not None:
            term = m.group("term")
            following = paragraph[end:end + 1]
            if following and following.islower():
                continue
            if term == "." and not m.group("close"):
                word = paragraph[begin:m.start()].rsplit(None, 1)[-1] if paragraph[begin:m.start()].strip() else ""
                word = word.lstrip("\"'([{“‘«")
                if "." in word or len(word) == 1 and word.isalpha() or word.lower() in ABBREVIATIONS:
                    continue
        piece = paragraph[begin:end].strip()
        if piece:
            pieces.append(piece)
        begin = end
    piece = paragraph[begin:].strip()
    if piece:
        pieces.append(piece)
    return pieces
