"""A real local HTTP server that records requests and answers from a script (for the
InfluxDB adapter's headers, bodies and retry behaviour, which a real influxd cannot fail on
demand)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        raw = self.body
        if self.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        return raw.decode()


@dataclass
class Answer:
    status: int = 204
    body: str = ""
    delay_s: float = 0.0


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[Answer] = []
        self.default = Answer()
        self.url = ""

    def next_answer(self) -> Answer:
        return self.script.pop(0) if self.script else self.default


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            recorder.requests.append(
                Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            answer = recorder.next_answer()
            time.sleep(answer.delay_s)
            payload = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
