"""Per-code-point tables that drive the native tokenizer.

Every fact comes from the running interpreter (`unicodedata`, `str.lower`, `str.isspace`), exactly as BERT's
reference `tokenization.py` asks the interpreter, so wptk and the reference agree on the same Python.
Building them takes about 0.4 s, so they are kept in cache files per Python version, Unicode version and version
of this module (in $WPTK_CACHE_DIR, else $XDG_CACHE_HOME/wptk or ~/.cache/wptk; unwritable means no cache), and
memory-mapped from there: a process reads only the pages of the code points its text has.
"""
import functools
import hashlib
import os
import sys
import tempfile
import unicodedata

import numpy as np

from wptk._native import flags as _flags
# The bits of the `flags` table and the special code points: declared once, in wptk/_native/flags.pxd.
from wptk._native.flags import (F_BREAK, F_CASE_IGNORABLE, F_CASED, F_CJK, F_CLUSTER_CONT, F_DELETE, F_LEADING,
                                F_MAPPED, F_MN, F_MONGOLIAN, F_PUNCT, F_REORDER, F_SOFT, F_SPACE, F_THAI, F_WS,
                                NNBSP, ZWSP)

N_CODE_POINTS = 0x110000

JOINERS_AND_SELECTORS = ([0x200C, 0x200D, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F] + list(range(0xFE00, 0xFE10))
                         + list(range(0xE0100, 0xE01F0)))
THAI_FOLLOWING_VOWELS = [0x0E30, 0x0E32, 0x0E33, 0x0E45]
THAI_LEADING_VOWELS = list(range(0x0E40, 0x0E45))

# Code-point ranges of _is_chinese_char in the reference.
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
_ASCII_PUNCT = [(33, 47), (58, 64), (91, 96), (123, 126)]
_UNASSIGNED = ("Cn", "Co", "Cs")


def _cache_stem(name):
    """The cache files' path without extension: one per Python, Unicode version, this module's source and flags."""
    root = os.environ.get("WPTK_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "wptk")
    digest = hashlib.sha256()
    with open(__file__, "rb") as f:
        digest.update(f.read())
    digest.update(repr(sorted((k, v) for k, v in vars(_flags).items() if isinstance(v, int))).encode())
    source = digest.hexdigest()[:16]
    key = f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}-u{unicodedata.unidata_version}"
    return os.path.join(root, f"chartable-{name}-{key}-{source}")


def _load_cached(stem):
    """The cached array (STEM.npy) or tuple of arrays (STEM-0.npy ..., counted in STEM.tuple), memory-mapped
    read-only, so that a process reads only the pages its text touches; None when not cached."""
    try:
        if os.path.exists(stem + ".tuple"):
            with open(stem + ".tuple", encoding="ascii") as f:
                count = int(f.read())
            return tuple(np.load(f"{stem}-{i}.npy", mmap_mode="r", allow_pickle=False) for i in range(count))
        return np.load(stem + ".npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None


def _store_cached(stem, result):
    """Writes the files _load_cached reads, each atomically; the tuple's count last, once its arrays are there.
    Removes the files of other versions of the same table. Failing to write only means no cache."""
    def atomic(path, write):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)

    try:
        directory, name = os.path.split(stem)
        os.makedirs(directory, exist_ok=True)
        if isinstance(result, tuple):
            for i, array in enumerate(result):
                atomic(f"{stem}-{i}.npy", lambda f, a=array: np.save(f, a))
            atomic(stem + ".tuple", lambda f: f.write(str(len(result)).encode("ascii")))
        else:
            atomic(stem + ".npy", lambda f: np.save(f, result))
        prefix = name.split(f"-{sys.implementation.name}")[0] + "-"
        for old in os.listdir(directory):           # tables of other versions of this module or Python
            if old.startswith(prefix) and not old.startswith(name):
                os.unlink(os.path.join(directory, old))
    except OSError:
        pass


def _disk_cached(build):
    """Caches a table-building function's array (or tuple of arrays) on disk, keyed by its arguments."""
    @functools.lru_cache(maxsize=None)
    def cached(*args):
        stem = _cache_stem(build.__name__ + "".join(f"-{int(a)}" for a in args))
        result = _load_cached(stem)
        if result is None:
            result = build(*args)
            _store_cached(stem, result)
        return result
    cached.build = build
    return cached


@functools.lru_cache(maxsize=None)
def assigned_code_points():
    """Code points whose category is not Cn/Co/Cs; all others have no property the tokenizer uses."""
    cps = []
    for cp in range(N_CODE_POINTS):
        if unicodedata.category(chr(cp)) not in _UNASSIGNED:
            cps.append(cp)
    return np.array(cps, dtype=np.int64)


@_disk_cached
def base_flags():
    """The mode-independent flags (uint16 per code point)."""
    flags = np.zeros(N_CODE_POINTS, dtype=np.uint16)
    sigma = "\u03a3"
    for cp in assigned_code_points().tolist():
        ch = chr(cp)
        cat = unicodedata.category(ch)
        f = 0
        if cat in ("Cc", "Cf") and ch not in "\t\n\r":
            f |= F_DELETE
        if ch in " \t\n\r" or cat == "Zs":
            f |= F_WS
        if cat[0] == "P":
            f |= F_PUNCT
        if ch.isspace():
            f |= F_SPACE
        if cat == "Mn":
            f |= F_MN
        elif unicodedata.combining(ch):
            f |= F_REORDER
        # Python's str.lower() decides the final sigma with the Cased and Case_Ignorable properties,
        # which unicodedata does not expose; ask lower() itself.
        stops_cased = (ch + sigma).lower()[-1] == "\u03c2"
        if stops_cased:
            f |= F_CASED
        elif ("A" + ch + sigma).lower()[-1] == "\u03c2":
            f |= F_CASE_IGNORABLE
        flags[cp] = f
    flags[0] |= F_DELETE
    flags[0xFFFD] |= F_DELETE
    for lo, hi in _ASCII_PUNCT:
        flags[lo:hi + 1] |= F_PUNCT
    for lo, hi in CJK_RANGES:
        flags[lo:hi + 1] |= F_CJK
    return flags


@_disk_cached
def combining_classes():
    """Canonical combining class (uint8 per code point), for NFD's canonical reordering."""
    ccc = np.zeros(N_CODE_POINTS, dtype=np.uint8)
    for cp in assigned_code_points().tolist():
        ccc[cp] = unicodedata.combining(chr(cp))
    return ccc


def _mapped(ch, lower, nfd):
    if lower:
        ch = ch.lower()
    if nfd:
        ch = unicodedata.normalize("NFD", ch)
    return ch


@_disk_cached
def normalization(lower, strip_accents):
    """Per-code-point normalization of one mode, before Mn removal.

    Returns (flags, offsets, pool): `flags` is `base_flags()` plus F_MAPPED (and F_REORDER on code points whose
    mapping contains a reorderable character); for a mapped code point `cp`, `pool[offsets[cp]]` is the length
    of its mapping and the code points follow. Mapping = NFD(lower(cp)) with the parts the mode asks for; the
    context-dependent final sigma is handled by the kernel.
    """
    flags = base_flags().copy()
    offsets = np.full(N_CODE_POINTS, -1, dtype=np.int32)
    pool = [0]
    if lower or strip_accents:
        base = base_flags()
        for cp in assigned_code_points().tolist():
            ch = chr(cp)
            out = _mapped(ch, lower, strip_accents)
            if out == ch:
                continue
            flags[cp] |= F_MAPPED
            if any(base[ord(c)] & F_REORDER for c in out):
                flags[cp] |= F_REORDER
            offsets[cp] = len(pool)
            pool.append(len(out))
            pool.extend(ord(c) for c in out)
    return flags, offsets, np.array(pool, dtype=np.uint32)


@_disk_cached
def multilingual_flags():
    """`base_flags()` plus the multilingual bits."""
    flags = base_flags().copy()
    soft = (flags & F_DELETE) != 0
    soft[JOINERS_AND_SELECTORS] = True
    soft[ZWSP] = False
    flags[soft] |= F_SOFT
    flags[ZWSP] |= F_BREAK
    thai = np.arange(0x0E00, 0x0E80)
    assigned = np.isin(thai, assigned_code_points())
    flags[thai[assigned]] |= F_THAI
    flags[[cp for cp in thai[assigned].tolist() if flags[cp] & F_MN]] |= F_CLUSTER_CONT
    flags[THAI_FOLLOWING_VOWELS] |= F_CLUSTER_CONT
    flags[THAI_LEADING_VOWELS] |= F_LEADING
    for cp in range(0x1800, 0x18B0):
        if unicodedata.category(chr(cp)) in ("Lo", "Lm", "Mn", "Cf"):
            flags[cp] |= F_MONGOLIAN
    return flags
