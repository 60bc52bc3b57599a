"""`make bench` (``python -m benchmarks``): the speed figures of issue 6, measured on the real parts; the last line
printed is one JSON object. Measurement, not the product: it lives beside ``include/`` and only uses the product.

What is measured, each the median of ``runs`` runs (the machine is shared, so the load average is reported too):
- embedding through infinity (uncached texts, the pipeline's client) and, for comparison, sentence-transformers
  in-process on the same model (in infinity's venv, at its best batch size): ``embedding.py``;
- one DAG cycle under a real Airflow (api-server, scheduler with LocalExecutor, dag-processor; temp AIRFLOW_HOME,
  SQLite: ``airflow_stack.py``), trigger to promotion decision, on a data root whose labelled store and champion
  already hold the chronological history (``history.py``), with a batch in the inbox whose embeddings are not
  cached (so the cycle embeds them); per-task times from the task instances, and the rest (scheduling, task
  start-up) as overhead: ``cycle.py``;
- continued boosting (the cycle's challenger) and a full refit on the history: ``run.py``;
- prediction through ``Predictor.predict`` (the function behind ``POST /api/predict``), uncached texts:
  ``prediction.py``;
- how fast the loop reacts (issue 12): "Send batch" to the run's first task, a manual refit's trigger to its train
  task, a run with nothing to do: ``reaction.py``;
- scoring the unlabelled stream (issue 16): uncached tweets/s beside infinity alone, re-scoring with cached vectors,
  the drift check of a 5,000-tweet window against 20,000 training rows: ``scoring.py``;
- peak RSS of the task processes (sampled from /proc while the cycle runs), and of the infinity server:
  ``processes.py``.
Feature vectors of the history and the holdout come from the configured feature cache (filled if missing), so a
second run is quick. An infinity server is started with scripts/start_infinity.sh if none answers
(``infinity_server.py``).
"""
