"""`python -m pipelines.create_pretraining_data --help`: BERT pretraining data from a corpus of any size, as an Apache Beam job.

The job lives in the installed package (wptk/beam/create_pretraining_data.py), so that remote workers need only wptk; this file
only lets the command run from a source checkout, as the README shows."""
from wptk.program import run_beam_program

if __name__ == "__main__":
    run_beam_program("create_pretraining_data")
