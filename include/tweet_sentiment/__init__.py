"""A COVID-19 tweet-sentiment classifier that retrains itself (LightGBM on infinity sentence embeddings).

At the top: the front door (``__main__``) and the shared vocabulary (``config``, ``schema``, ``text``). The
packages, from the bottom up; each imports only packages below it, never one above:

- ``storage``: the data root's file system, CSV reading, the stores of batches, labelled rows and vectors.
- ``model``: embeddings (infinity), features, boosting, the gate, the registry, prediction, charts.
- ``intake``: claiming inbox files and parsing them into rows (labelled, unlabelled), the feed.
- ``label_check``: finding likely label errors and the review of held rows.
- ``labelling``: the labelling queue, annotators' answers, sources, agreement.
- ``monitoring``: scoring the unlabelled stream, the mood, drift.
- ``pages``: what the UI's pages show.
- ``pipeline``: one task module per DAG, the sensor's decision, Params, assets, run notes.

The quality lab (``lab/``) and the benchmarks (``benchmarks/``) sit outside: nothing here imports them.
"""
