"""A tiny real HTTP server that answers with canned provider responses.

LLMock does not emit every documented usage field (prompt-cache reads and
writes, reasoning tokens) or Gemini's RetryInfo; this server replays the
providers' documented response shapes so the adapters are tested on them over
real HTTP, and records each raw request line and headers for inspection.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One answer: ``body`` is sent as JSON, or as is when it is bytes (an HTML
    page, a truncated body); a ``content-type`` in ``headers`` replaces the JSON one."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()

    def content_type(self) -> str:
        given = {k.lower(): v for k, v in self.headers.items()}
        return given.get("content-type", "application/json")


@dataclass
class Seen:
    method: str
    target: str  # the raw request target: path and query string
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when the request arrived


class CannedServer:
    """Serve queued replies in order (the last one repeats); record requests.

    A GET is answered by the reply registered for its target with :meth:`on_get`
    (a model lookup that may go out alongside queued POSTs), else from the queue.
    """

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.get_replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append(
                    Seen("GET", self.path, dict(self.headers), None, time.monotonic())
                )
                reply = server.get_replies.get(self.path)
                if reply is None:
                    reply = (
                        server.replies.popleft() if len(server.replies) > 1 else server.replies[0]
                    )
                data = reply.payload()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type())
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                server.seen.append(
                    Seen(
                        "POST",
                        self.path,
                        dict(self.headers),
                        json.loads(raw or b"null"),
                        time.monotonic(),
                    )
                )
                reply = server.replies.popleft() if len(server.replies) > 1 else server.replies[0]
                data = reply.payload()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type())
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    if name.lower() != "content-type":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply) -> CannedServer:
        self.replies.extend(replies)
        return self

    def on_get(self, target: str, reply: Reply) -> CannedServer:
        """Answer every GET of ``target`` (path and query) with ``reply``."""
        self.get_replies[target] = reply
        return self

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
