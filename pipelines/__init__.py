"""Entry points of wptk's Beam jobs for a source checkout (`python -m pipelines.<job>`); not installed. The jobs
themselves are in wptk.beam."""
