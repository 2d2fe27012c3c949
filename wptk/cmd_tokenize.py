"""`wptk tokenize`: one text per input line, one tokenized line out, streaming in constant memory."""
import contextlib
import itertools
import json
import os
import sys

from wptk.errors import WptkError

HELP = "WordPiece-tokenize text (BERT's FullTokenizer, exactly)"
DESCRIPTION = """\
Tokenizes text exactly as BERT's tokenization.FullTokenizer does, one text per input line
(lines are split on "\\n" only), and writes one output line per input line.

examples:
  wptk tokenize --vocab vocab.txt corpus.txt                 # tokens separated by spaces
  echo "Hello, World!" | wptk tokenize --vocab vocab.txt --ids
  wptk tokenize --vocab cased_vocab.txt --no-lower --jsonl --offsets in.jsonl -o out.jsonl
"""
BATCH_LINES = 4096


def add_arguments(p):
    from wptk.flags import add_case_flags
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="input files (default: stdin; '-' also means stdin); .gz, .bz2, .xz and .lzma files are "
                        "decompressed")
    p.add_argument("--vocab", "--vocab_file", dest="vocab", required=True,
                   help="WordPiece vocab file, one token per line (id = line number)")
    add_case_flags(p)
    accents = p.add_mutually_exclusive_group()
    accents.add_argument("--strip-accents", "--strip_accents", dest="strip_accents", action="store_true", default=None,
                         help="strip accents (NFD, drop Mn) even with --no-lower")
    accents.add_argument("--no-strip-accents", "--no_strip_accents", dest="strip_accents", action="store_false",
                         help="keep accents even when lowercasing")
    p.add_argument("--ids", action="store_true", help="write token ids instead of tokens")
    p.add_argument("--jsonl", action="store_true",
                   help='read JSON lines {"text": ...}; write {"tokens": [...], "ids": [...]} '
                        '(and "offsets" with --offsets)')
    p.add_argument("--offsets", action="store_true",
                   help="also write each token's [start, end) character span in the input line; in plain "
                        "output they follow a TAB as start:end pairs")
    p.add_argument("--errors", choices=("ignore", "strict"), default="ignore",
                   help="invalid UTF-8: 'ignore' drops the bytes as the reference does and reports the count "
                        "on stderr (default); 'strict' stops with the file and line number")
    p.add_argument("-o", "--output", help="write to this file (atomically: complete or absent) instead of stdout")
    p.add_argument("--max_line_mb", type=float, default=64, metavar="MB",
                   help="a line longer than this many MiB is an error naming the file and line (an endless line "
                        "such as /dev/zero's would take all memory); default 64")


def run(args):
    from wptk.program import setup_warnings
    from wptk.files import AtomicFile, check_input, check_outputs
    from wptk.flags import resolve_case
    from wptk.progress import Progress
    from wptk.reader import Utf8Decoder, max_line_bytes, read_lines
    from wptk.tokenization import FullTokenizer
    from wptk.vocab import UNK, require_tokens

    setup_warnings("wptk tokenize")
    if args.multilingual and args.strip_accents:
        raise WptkError("--multilingual never strips accents; drop --strip-accents")
    tokenizer = FullTokenizer(args.vocab, do_lower_case=resolve_case(args),
                              strip_accents=args.strip_accents, multilingual=args.multilingual)
    require_tokens(tokenizer.vocab, [UNK], args.vocab)
    max_line = max_line_bytes(args.max_line_mb)
    files = args.files or ["-"]
    for path in files:
        check_input(path)
    check_outputs([args.output] if args.output else [], files + [args.vocab], "-o", stdout=not args.output)
    total = sum(os.path.getsize(p) for p in files) if "-" not in files else None
    progress = Progress("tokenize", total=total, enabled=None if total else False)
    decoder = Utf8Decoder(strict=args.errors == "strict")
    lines = itertools.chain.from_iterable(read_lines(p, decoder, progress, max_line=max_line)
                                          for p in files)
    try:
        with AtomicFile(args.output, "w") if args.output else contextlib.nullcontext(sys.stdout) as stream:
            _tokenize_stream(tokenizer, lines, stream, args)
    finally:
        progress.close()
    decoder.report("wptk tokenize")
    return 0


def _texts(lines, jsonl):
    for number, line in enumerate(lines, 1):
        if not jsonl:
            yield line
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        except RecursionError:
            raise WptkError(f"input line {number}: JSON nested too deeply to read; give each line a flat "
                            '{"text": ...} object') from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise WptkError(f'input line {number}: expected a JSON object with a "text" string')
        yield obj["text"]


def _tokenize_stream(tokenizer, lines, stream, args):
    strings = tokenizer.inv_vocab
    texts = _texts(lines, args.jsonl)
    while True:
        batch = list(itertools.islice(texts, BATCH_LINES))
        if not batch:
            return
        result = tokenizer.encode_batch(batch, offsets=args.offsets)
        ids, splits = result[0].tolist(), result[1].tolist()
        spans = result[2].tolist() if args.offsets else None
        out = []
        for i in range(len(batch)):
            row = ids[splits[i]:splits[i + 1]]
            if args.jsonl:
                obj = {"tokens": [strings[t] for t in row], "ids": row}
                if spans is not None:
                    obj["offsets"] = spans[splits[i]:splits[i + 1]]
                out.append(_json_line(obj))
                continue
            text = " ".join(map(str, row)) if args.ids else " ".join([strings[t] for t in row])
            if spans is not None:
                text += "\t" + " ".join(f"{s}:{e}" for s, e in spans[splits[i]:splits[i + 1]])
            out.append(text)
        stream.write("\n".join(out) + "\n")


def _json_line(obj):
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON input
        text = json.dumps(obj)
    return text
