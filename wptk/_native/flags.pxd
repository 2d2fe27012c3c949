# Bits of the per-code-point `flags` table: wptk/chartable.py sets them, the tokenizer kernel tests them.
# Declared here only; `wptk._native.flags` exports them to Python (each .pyx that cimports this gets C constants).
cpdef enum:
    F_DELETE = 1 << 0          # removed by _clean_text: U+0000, U+FFFD, Cc/Cf except \t \n \r
    F_WS = 1 << 1              # _is_whitespace: mapped to " " by _clean_text
    F_CJK = 1 << 2             # _is_chinese_char: surrounded by spaces
    F_PUNCT = 1 << 3           # _is_punctuation: split off as its own token
    F_SPACE = 1 << 4           # str.isspace(): splits in whitespace_tokenize
    F_CASED = 1 << 5           # ends the final-sigma scan as a cased letter (Unicode Cased, not Case_Ignorable)
    F_CASE_IGNORABLE = 1 << 6  # skipped by the final-sigma scan
    F_MN = 1 << 7              # category Mn: dropped by _run_strip_accents
    F_REORDER = 1 << 8         # not Mn but canonical combining class != 0: NFD may reorder it
    F_MAPPED = 1 << 9          # the mode's normalization changes this code point (chartable.normalization)
    # Multilingual mode only (see docs/multilingual.md):
    F_SOFT = 1 << 10           # kept inside its word but transparent to WordPiece: controls, format characters,
                               # joiners, Mongolian and variation selectors (matched only where the vocab has them)
    F_BREAK = 1 << 11          # ZERO WIDTH SPACE: a word boundary
    F_THAI = 1 << 12           # Thai block: segmented with the Thai dictionary
    F_MONGOLIAN = 1 << 13      # Mongolian letters and selectors: U+202F between them starts a suffix word
    F_CLUSTER_CONT = 1 << 14   # Thai: never a word boundary before this character (marks, following vowels)
    F_LEADING = 1 << 15        # Thai: never a word boundary after this character (leading vowels)

cpdef enum:
    ZWSP = 0x200B              # ZERO WIDTH SPACE
    NNBSP = 0x202F             # NARROW NO-BREAK SPACE: transparent in multilingual mode, splits Mongolian suffixes
