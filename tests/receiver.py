"""A real webhook receiver on 127.0.0.1 that can go down and come back on the same port."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records every POST; checks the HMAC signature when it knows the secret."""

    def __init__(self, secret: str | None = None, status: int = 204) -> None:
        self.secret = secret
        self.status = status
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signature = self.headers.get("X-Mlops-Signature")
                if receiver.secret is not None:
                    expected = (
                        "sha256="
                        + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                    )
                    if signature is None or not hmac.compare_digest(signature, expected):
                        with receiver._lock:
                            receiver.bad_signatures += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                with receiver._lock:
                    receiver.received.append(
                        {
                            "headers": dict(self.headers),
                            "body": json.loads(body),
                            "path": self.path,
                        }
                    )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self) -> list[int]:
        with self._lock:
            return [r["body"]["id"] for r in self.received if r["body"]["id"] is not None]

    def kinds(self) -> list[str]:
        with self._lock:
            return [r["body"]["kind"] for r in self.received]
