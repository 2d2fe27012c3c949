"""`python -m pipelines.word_count --help`: word counts for wptk vocab, as an Apache Beam job.

The job lives in the installed package (wptk/beam/word_count.py), so that remote workers need only wptk; this file
only lets the command run from a source checkout, as the README shows."""
from wptk.program import run_beam_program

if __name__ == "__main__":
    run_beam_program("word_count")
