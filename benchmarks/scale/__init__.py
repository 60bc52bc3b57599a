"""`make bench-scale` (``python -m benchmarks.scale``): does a cycle's cost grow with the labelled history?

For each history size N (default 40k, 200k and 1M labelled rows) a synthetic history is built once and cached
(``build.py``): B = N / 2,000 batches written in bulk by the product's own writers (labelled store, vector cache,
archive, ledger, file digests), the first batch through a real refit cycle so that a champion exists. Texts are
recombined from the dataset's words, 5 % of each later batch relabels an earlier text, the recent holdout flag is
the product's (15 %): ``synthetic.py``. Vectors come from a stand-in embedder, deterministic from the text hash, over
infinity's HTTP API (``standin.py``); lexicon features are computed once per text and kept (``lexicon/``).

Then one real cycle of 2,000 new rows runs on a copy of each history through the retrain task functions, each
step in its own process, timed and with its peak RSS (``cycle.py``, ``step.py``); the new texts' vectors are cached
beforehand, so the embed step measures only what grows with history. Bytes on disk per labelled row are counted
per part (``figures.py``). Progress goes to stderr; the last line on stdout is one JSON object.
"""
