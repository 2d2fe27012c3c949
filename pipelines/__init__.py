"""Apache Beam pipelines built on wptk's library functions.

``python -m pipelines.create_pretraining_data``: BERT pretraining data for corpora of any size, split into
buckets of documents that are each turned into records exactly as ``wptk create-pretraining-data`` does.
``python -m pipelines.word_count``: word counts for ``wptk vocab``, on any runner.
``pipelines.process_costs``: the start-up and exit costs both jobs' processes skip.
"""
