"""A stand-in for infinity, only for the faults a real server cannot be made to show on demand: a 500 on the Nth
call, and from the Nth call on (the calls before it forwarded to the real server, so the one-text dimension probe
gets its real answer) a 500 every time, a hang, vectors of the wrong width, or nobody listening any more."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

PERSISTENT_FAULTS = ("unreachable", "500", "hang", "wrong_dim")


class StandIn:
    """Behaviour (``mode``), a log of when each call arrived and what it asked for; ``url`` is where it listens.

    ``500_on_nth``: call ``fail_on`` answers 500, every other call is forwarded to ``real_url``. A mode of
    PERSISTENT_FAULTS: calls before ``fail_from`` are forwarded, the fault starts at call ``fail_from``
    (``unreachable``: the stand-in stops listening right after answering call ``fail_from - 1``).
    """

    def __init__(self, mode: str, real_url: str = "", fail_on: int = 0, fail_from: int = 1,
                 delay_s: float = 0.0) -> None:
        self.mode, self.real_url, self.fail_on, self.fail_from = mode, real_url, fail_on, fail_from
        self.delay_s = delay_s
        self.calls: list[float] = []
        self.inputs: list[list[str]] = []
        self.stopped_listening_at: float | None = None
        self.url = ""

    def faulty(self, n: int) -> bool:
        if self.mode == "500_on_nth":
            return n == self.fail_on
        return n >= self.fail_from

    def answer(self, body: bytes) -> tuple[int, bytes]:
        self.calls.append(time.monotonic())
        texts = json.loads(body)["input"]
        self.inputs.append(texts)
        if self.faulty(len(self.calls)):
            if self.mode in ("500", "500_on_nth"):
                return 500, b'{"error": "injected internal server error"}'
            if self.mode == "hang":  # past the client's timeout: nobody reads the answer
                time.sleep(self.delay_s)
                return 504, b'{"error": "hung"}'
            if self.mode == "wrong_dim":
                data = [{"object": "embedding", "index": i, "embedding": [0.1] * 8} for i in range(len(texts))]
                return 200, json.dumps({"object": "list", "data": data, "model": "x"}).encode()
        resp = httpx.post(f"{self.real_url}/embeddings", content=body,
                          headers={"content-type": "application/json"}, timeout=60)
        return resp.status_code, resp.content

    def stops_listening_after(self, n: int) -> bool:
        return self.mode == "unreachable" and n == self.fail_from - 1


@contextmanager
def serve(stand_in: StandIn) -> Iterator[StandIn]:
    """Run the stand-in on a free local port (bound by the server itself: no port to race for) for the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, payload = stand_in.answer(self.rfile.read(int(self.headers["Content-Length"])))
            if stand_in.stops_listening_after(len(stand_in.calls)):  # closed before this answer is sent
                server.shutdown()
                server.server_close()
                stand_in.stopped_listening_at = time.monotonic()
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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
