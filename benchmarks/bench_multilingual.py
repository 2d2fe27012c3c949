"""Multilingual mode vs the reference's cased mode, on the shared multilingual corpora (one run, one core).

Prints, with the multilingual-cased vocab:
  - never worse: per UDHR language, the share of word characters inside [UNK] words, multilingual <= reference;
  - Thai word boundaries: precision / recall of word starts against PyThaiNLP's newmm with the same word list;
  - lossless: non-whitespace characters covered by no token span (multilingual: goal 0);
  - speed: multilingual MB/s vs the reference (PyPI bert-tensorflow) and vs wptk's own cased mode, all three on
    the same text (the first --reference-mb MB of the corpora) and pinned to the same core. Every timed pass is
    the first pass of a freshly built instance (built outside the timing), so wptk's per-word cache starts empty
    and fills during the pass, as on a user's text; best and median of --repeats passes for each tokenizer. wptk's
    later passes over the same lines (its cache then holds every word) are printed separately as "warm".

    pip install -e ".[bench]" && python benchmarks/bench_multilingual.py
"""
import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import wptk
from common import REPO_ROOT, cpu_model
from wptk import chartable
from wptk.testing import reference_module, reference_tokenizer, shared_data

ZWSP = "\u200b"


def corpus_files(multi):
    skip = ("words_th.txt", "corpus_license.md", "udhr_samples.tsv")
    return sorted(p for p in multi.rglob("*") if p.is_file() and p.name not in skip)


def read_lines(paths):
    lines = []
    for p in paths:
        lines += p.read_bytes().decode("utf-8", "ignore").split("\n")
    return lines


def udhr_samples(multi):
    rows = []
    for line in (multi / "udhr_samples.tsv").read_text(encoding="utf-8").split("\n"):
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip():
            rows.append((parts[0], parts[1], "\t".join(parts[2:])))
    return rows


def unk_share_reference(ref, text):
    """Characters of the reference's basic words that end up as [UNK], and all their characters."""
    unk = total = 0
    for word in ref.basic_tokenizer.tokenize(text):
        total += len(word)
        if ref.wordpiece_tokenizer.tokenize(word) == ["[UNK]"]:
            unk += len(word)
    return unk, total


def unk_share_spans(tok, text):
    """Characters inside [UNK] token spans, and inside any span, counting the same characters as the reference
    (not whitespace, and not the controls and format characters the reference deletes)."""
    ids, offsets = tok.encode(text, offsets=True)
    unk_id = tok.vocab["[UNK]"]
    deleted = chartable.base_flags()
    unk = total = 0
    for tid, (start, end) in zip(ids.tolist(), offsets.tolist()):
        n = sum(1 for c in text[start:end] if not c.isspace() and not deleted[ord(c)] & chartable.F_DELETE)
        total += n
        if tid == unk_id:
            unk += n
    return unk, total


def uncovered(tok, lines):
    """Non-whitespace characters (ZWSP counts as a separator) that no token span covers."""
    ids, splits, offsets = tok.encode_batch(lines, offsets=True)
    missing = 0
    for i, text in enumerate(lines):
        covered = bytearray(len(text))
        for start, end in offsets[splits[i]:splits[i + 1]].tolist():
            covered[start:end] = b"\x01" * (end - start)
        missing += sum(1 for k, c in enumerate(text) if not covered[k] and not c.isspace() and c != ZWSP)
    return missing


def thai_word_starts(tokens_offsets, text):
    starts = set()
    for token, (start, _) in tokens_offsets:
        if not token.startswith("##") and start < len(text) and "\u0e00" <= text[start] <= "\u0e7f":
            starts.add(start)
    return starts


def newmm_starts(text, trie):
    from pythainlp.tokenize import word_tokenize
    starts, pos = set(), 0
    for word in word_tokenize(text, engine="newmm", custom_dict=trie, keep_whitespace=True):
        if word and "\u0e00" <= word[0] <= "\u0e7f":
            starts.add(pos)
        pos += len(word)
    return starts


def precision_recall(ours, theirs):
    hit = len(ours & theirs)
    return hit / max(len(ours), 1), hit / max(len(theirs), 1)


def spans(tok, text):
    ids, offsets = tok.encode(text, offsets=True)
    return list(zip(tok.convert_ids_to_tokens(ids.tolist()), offsets.tolist()))


def first_passes(make, run, repeats):
    """(best, median) wall seconds of run(make()) over `repeats` fresh instances; make() is not timed."""
    times = []
    for _ in range(repeats):
        tok = make()
        start = time.perf_counter()
        run(tok)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def warm_passes(tok, run, repeats):
    """(best, median) wall seconds of run(tok) after one untimed pass has filled its cache."""
    run(tok)
    return first_passes(lambda: tok, run, repeats)


def check_unk_shares(ref, ml, rows):
    """Never worse: per UDHR language, the [UNK] share of word characters, reference cased against multilingual."""
    worse, tot = [], [0, 0, 0, 0]
    per_script = {}
    for code, name, text in rows:
        ru, rt = unk_share_reference(ref, text)
        mu, mt = unk_share_spans(ml, text)
        tot[0] += ru; tot[1] += rt; tot[2] += mu; tot[3] += mt
        script = code.split("_")[-1] if "_" in code else "?"
        acc = per_script.setdefault(script, [0, 0, 0, 0])
        acc[0] += ru; acc[1] += rt; acc[2] += mu; acc[3] += mt
        if mt and rt and mu / mt > ru / rt + 1e-12:
            worse.append((code, ru / rt, mu / mt))
    print(f"\n[UNK] share of word characters, {len(rows)} UDHR samples: reference cased "
          f"{tot[0] / tot[1]:.1%}, multilingual {tot[2] / tot[3]:.1%}")
    for script in ("Thai", "Mong", "Khmr", "Deva", "Arab", "Laoo", "Mymr", "Tibt"):
        if script in per_script:
            a = per_script[script]
            print(f"  {script}: reference {a[0] / max(a[1], 1):.1%}, multilingual {a[2] / max(a[3], 1):.1%}")
    for code, r, m in worse[:10]:
        print(f"  WORSE {code}: reference {r:.2%}, multilingual {m:.2%}")
    return [("never worse: languages where multilingual has a larger [UNK] share", len(worse), len(worse) == 0)]


def check_thai_words(multi, ml, cased):
    """Thai word boundaries: where tokens start against newmm's word starts, on the Thai tutorial."""
    from pythainlp.util import Trie as ThaiTrie
    words = (REPO_ROOT / "wptk" / "data" / "words_th.txt").read_text(encoding="utf-8").split("\n")
    trie = ThaiTrie([w for w in words if w])
    thai_lines = [l for l in (multi / "thai" / "emacs_TUTORIAL.th.txt").read_text(encoding="utf-8").split("\n")
                  if any("\u0e00" <= c <= "\u0e7f" for c in l)]
    sums = {"multilingual": [0, 0, 0], "reference": [0, 0, 0]}
    for line in thai_lines:
        gold = newmm_starts(line, trie)
        for name, tok in (("multilingual", ml), ("reference", cased)):
            ours = thai_word_starts(spans(tok, line), line)
            sums[name][0] += len(ours & gold); sums[name][1] += len(ours); sums[name][2] += len(gold)
    print(f"\nThai word starts vs newmm ({len(thai_lines)} lines of the Thai tutorial):")
    for name, (hit, n_ours, n_gold) in sums.items():
        print(f"  {name}: precision {hit / max(n_ours, 1):.3f}, recall {hit / max(n_gold, 1):.3f}")
    hit, n_ours, n_gold = sums["multilingual"]
    return [("Thai precision >= 0.95", round(hit / max(n_ours, 1), 3), hit / max(n_ours, 1) >= 0.95),
            ("Thai recall >= 0.95", round(hit / max(n_gold, 1), 3), hit / max(n_gold, 1) >= 0.95)]


def check_lossless(multi, rows, ml, cased):
    """Lossless: non-whitespace characters that no token's span covers, in the corpora and the UDHR samples."""
    lines = read_lines(corpus_files(multi)) + [text for _, _, text in rows]
    missing_ml, missing_ref = uncovered(ml, lines), uncovered(cased, lines)
    print(f"\nnon-whitespace characters covered by no token ({sum(map(len, lines)):,} characters): "
          f"reference cased {missing_ref:,}, multilingual {missing_ml:,}")
    return [("lossless: characters dropped without trace", missing_ml, missing_ml == 0)]


def check_speed(multi, vocab, args):
    """Speed: the same text for every tokenizer, first passes of fresh instances."""
    sample, size = [], 0.0
    for line in read_lines(corpus_files(multi)):
        if size >= args.reference_mb:
            break
        sample.append(line)
        size += (len(line.encode("utf-8")) + 1) / 1e6
    module = reference_module()
    t_ref = first_passes(lambda: module.FullTokenizer(vocab, do_lower_case=False),
                         lambda tok: [tok.tokenize(l) for l in sample], args.repeats)
    t_ml = first_passes(lambda: wptk.FullTokenizer(vocab, multilingual=True),
                        lambda tok: tok.encode_batch(sample), args.repeats)
    t_cased = first_passes(lambda: wptk.FullTokenizer(vocab, do_lower_case=False),
                           lambda tok: tok.encode_batch(sample), args.repeats)
    w_ml = warm_passes(wptk.FullTokenizer(vocab, multilingual=True), lambda tok: tok.encode_batch(sample),
                       args.repeats)
    ref_mbs, ml_mbs, cased_mbs = size / t_ref[0], size / t_ml[0], size / t_cased[0]
    print(f"\nspeed on the same {size:.2f} MB of the multilingual corpora, one core, first pass of a fresh instance "
          f"(best / median of {args.repeats}):")
    for name, (best, median) in [("reference cased", t_ref), ("wptk cased", t_cased), ("wptk multilingual", t_ml)]:
        print(f"  {name}: {size / best:.2f} / {size / median:.2f} MB/s")
    print(f"  (not a headline: wptk multilingual, warm cache, later passes over the same lines: "
          f"{size / w_ml[0]:.1f} / {size / w_ml[1]:.1f} MB/s)")
    return [("multilingual / reference cased >= 50x", round(ml_mbs / ref_mbs, 1), ml_mbs / ref_mbs >= 50),
            ("multilingual / wptk cased >= 0.5x", round(ml_mbs / cased_mbs, 2), ml_mbs / cased_mbs >= 0.5)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-mb", type=float, default=2.0,
                        help="MB of the corpus timed, by every tokenizer (default 2; the reference is slow)")
    parser.add_argument("--repeats", type=int, default=3, help="timed first passes per tokenizer (default 3)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):   # before TensorFlow (the reference) starts threads: they inherit it
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    warnings.simplefilter("ignore")
    data = shared_data()
    if data is None:
        sys.exit("../shared/data not found (set WPTK_SHARED_DATA)")
    multi = data / "corpus" / "multi"
    vocab = str(data / "vocab" / "bert-base-multilingual-cased.vocab.txt")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, pinned to one core")
    print(f"command: {' '.join(sys.argv)}")

    ml = wptk.FullTokenizer(vocab, multilingual=True)
    cased = wptk.FullTokenizer(vocab, do_lower_case=False)
    ref = reference_tokenizer(vocab, False)
    rows = udhr_samples(multi)
    checks = check_unk_shares(ref, ml, rows)
    checks += check_thai_words(multi, ml, cased)
    checks += check_lossless(multi, rows, ml, cased)
    checks += check_speed(multi, vocab, args)
    print("\ngoals:")
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
