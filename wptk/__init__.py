"""wptk: fast, exact BERT tokenization and pretraining-data creation."""
from wptk.errors import WptkError
from wptk.tokenization import (BasicTokenizer, FullTokenizer, WordpieceTokenizer, convert_by_vocab,
                               convert_to_unicode, detokenize, whitespace_tokenize)
from wptk.vocab import load_vocab

__version__ = "0.1.0"
__all__ = ["FullTokenizer", "BasicTokenizer", "WordpieceTokenizer", "load_vocab", "convert_to_unicode",
           "convert_by_vocab", "whitespace_tokenize", "detokenize", "WptkError", "__version__"]
