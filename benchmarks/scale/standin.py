"""A stand-in for infinity's ``POST /embeddings``: each text's vector drawn from a generator seeded by the hash
of the text, so the same text always gets the same unit vector; no model, no infinity (the scale bench measures
storage, not embedding)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from tweet_sentiment.text import text_hash

DIM = 384  # all-MiniLM-L6-v2's width


def standin_vectors(texts: Sequence[str]) -> np.ndarray:
    """Unit float32 vectors ``(len(texts), DIM)``, each a function of its text's hash."""
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        out[row] = np.random.default_rng(int(text_hash(text)[:16], 16)).standard_normal(DIM)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        vectors = standin_vectors(body["input"])
        data = [{"object": "embedding", "index": i, "embedding": base64.b64encode(v.tobytes()).decode()}
                for i, v in enumerate(vectors)]
        payload = json.dumps({"object": "list", "data": data, "model": body.get("model", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # quiet: one line per request would drown the progress
        pass


@contextmanager
def standin_server() -> Iterator[str]:
    """Serve the stand-in on a free local port for the block; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
