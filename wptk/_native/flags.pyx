# cython: language_level=3
"""The flag bits of wptk/_native/flags.pxd, as Python ints (for wptk/chartable.py): one declaration for both."""
