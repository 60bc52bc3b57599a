"""The client of an infinity embedding server: batched, concurrent, retried ``POST /embeddings``."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)


class EmbeddingServiceError(RuntimeError):
    """infinity could not give the embeddings (after the retries); the message says what it answered."""


RETRIED_STATUSES = (429, 500, 502, 503, 504)


class _Retry(Retry):
    """urllib3's Retry, but waiting ``backoff_factor`` before the first retry too (urllib3 waits 0 s there):
    ``backoff_factor * 2 ** (n - 1)`` before the n-th retry, at most ``backoff_max``."""

    def get_backoff_time(self) -> float:
        return min(self.backoff_max, self.backoff_factor * 2 ** (len(self.history) - 1)) if self.history else 0.0


class InfinityClient:
    """Batched, retried client of infinity's OpenAI-style ``POST /embeddings``.

    Retries are urllib3's: connection errors, read timeouts and the statuses in RETRIED_STATUSES are tried again
    ``retries`` times, waiting ``backoff_s``, then twice as long each time; a 4xx answer is not retried.
    Vectors are asked for as base64 float32 (``encoding_format``) rather than JSON float lists: the same bits,
    and the client and the server (which share the CPU) skip most of the JSON work.
    """

    def __init__(self, url: str, model: str, api_key: str = "", batch_size: int = 128, concurrency: int = 2,
                 timeout_s: float = 60.0, retries: int = 4, backoff_s: float = 1.0) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        retry = _Retry(total=retries, backoff_factor=backoff_s, status_forcelist=RETRIED_STATUSES,
                      allowed_methods=frozenset({"POST"}), raise_on_status=False, respect_retry_after_header=False)
        self._http = requests.Session()
        self._http.mount(self.url, HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=self.concurrency))
        if api_key:
            self._http.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InfinityClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in their order, float32 ``(len(texts), dim)``.

        Texts are sent length-sorted so that each batch pads little; batches go out ``concurrency`` at a time.
        """
        if not texts:
            raise ValueError("embed() needs at least one text")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        def post(idx: list[int]) -> np.ndarray:
            return self._post([texts[i] for i in idx])

        if len(chunks) == 1:  # one request: no thread pool to start (a single prediction's latency)
            results = [post(chunks[0])]
        else:
            with ThreadPoolExecutor(min(self.concurrency, len(chunks))) as pool:
                results = list(pool.map(post, chunks))
        dims = {r.shape[1] for r in results}
        if len(dims) != 1:
            raise EmbeddingServiceError(f"infinity at {self.url} returned vectors of several dimensions: {dims}")
        out = np.empty((len(texts), dims.pop()), dtype=np.float32)
        for idx, vectors in zip(chunks, results, strict=True):
            out[idx] = vectors
        return out

    def _post(self, batch: list[str]) -> np.ndarray:
        attempts = f"failed {self.retries + 1} times for model {self.model!r}"
        try:
            resp = self._http.post(f"{self.url}/embeddings", timeout=self.timeout_s,
                                   json={"model": self.model, "input": batch, "encoding_format": "base64"})
        except requests.RequestException as exc:
            reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else exc
            raise EmbeddingServiceError(
                f"infinity at {self.url} {attempts}; last: {type(reason).__name__}: {reason}") from exc
        if resp.status_code in RETRIED_STATUSES:
            raise EmbeddingServiceError(
                f"infinity at {self.url} {attempts}; last: HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise EmbeddingServiceError(
                f"infinity at {self.url} refused the request for model {self.model!r}: "
                f"HTTP {resp.status_code}: {resp.text[:300]}")
        return self._parse(resp.json(), len(batch))

    def _parse(self, body: dict, expected: int) -> np.ndarray:
        data = sorted(body.get("data", []), key=lambda d: d["index"])
        if len(data) != expected:
            raise EmbeddingServiceError(f"infinity at {self.url} returned {len(data)} vectors for {expected} texts")
        try:
            vectors = np.stack([_vector(d["embedding"]) for d in data])
        except (TypeError, ValueError) as exc:
            raise EmbeddingServiceError(f"infinity at {self.url} returned malformed vectors: {exc}") from exc
        if vectors.ndim != 2 or not np.isfinite(vectors).all():
            raise EmbeddingServiceError(f"infinity at {self.url} returned malformed vectors")
        return vectors


def _vector(embedding: str | list[float]) -> np.ndarray:
    """One vector as sent: base64 float32 (asked for), or a float list (a server ignoring the ask)."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)
