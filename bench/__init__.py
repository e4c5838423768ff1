"""The pipeline benchmark (``python -m bench.pipeline``); results go to ``bench/results/``."""
