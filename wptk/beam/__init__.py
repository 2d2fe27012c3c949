"""wptk's Apache Beam jobs, the only package that imports apache_beam (pip install "wptk[beam]").

    io          files on any Beam filesystem: matching, checking and opening inputs, writing atomically
    staging     a job's hidden staging directory, publishing its outputs together, clean-up after a kill
    workers     local worker processes: started as `python -m wptk.beam.workers`, stopped with their driver
    pretraining the transforms of the pretraining-data job: read -> decode -> bucket -> spill -> group -> write
  the jobs (command lines: flags, run(), main(); `python -m pipelines.<job>` from a source checkout runs them):
    runner      choosing the runner, checking Beam's flags, running a job, metrics, worker errors as one line
    create_pretraining_data, word_count
    testing     what the Beam tests share (a corpus, the job run in this process): see wptk.testing
"""
import logging

NAMESPACE = "wptk"      # of the jobs' Beam metrics


class _QuietBeamImport(logging.Filter):
    """Drops the one warning `import apache_beam` logs about optional GCP client libraries."""

    def filter(self, record):
        return "apitools not found" not in str(record.msg)


logging.getLogger().addFilter(_QuietBeamImport())
