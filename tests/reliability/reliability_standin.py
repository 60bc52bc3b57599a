"""A stand-in for infinity, only for the faults a real server cannot be made to show on demand:
a 500 on the Nth call (else it forwards to the real server), a hang, vectors of the wrong width."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class StandIn:
    """Behaviour (``mode``) and a log of request times; ``url`` is where it listens."""

    def __init__(self, mode: str, real_url: str = "", fail_on: int = 0, delay_s: float = 0.0) -> None:
        self.mode, self.real_url, self.fail_on, self.delay_s = mode, real_url, fail_on, delay_s
        self.calls: list[float] = []
        self.url = ""

    def answer(self, body: bytes) -> tuple[int, bytes]:
        self.calls.append(time.monotonic())
        n = len(self.calls)
        if self.mode == "500" or (self.mode == "500_on_nth" and n == self.fail_on):
            return 500, b'{"error": "injected internal server error"}'
        if self.mode == "hang":
            time.sleep(self.delay_s)
        if self.mode == "wrong_dim":
            texts = json.loads(body)["input"]
            data = [{"object": "embedding", "index": i, "embedding": [0.1] * 8} for i in range(len(texts))]
            return 200, json.dumps({"object": "list", "data": data, "model": "x"}).encode()
        resp = httpx.post(f"{self.real_url}/embeddings", content=body,
                          headers={"content-type": "application/json"}, timeout=60)
        return resp.status_code, resp.content


@contextmanager
def serve(stand_in: StandIn) -> Iterator[StandIn]:
    """Run the stand-in on a free local port for the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, payload = stand_in.answer(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
