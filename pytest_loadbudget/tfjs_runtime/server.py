"""A local HTTP/1.1 server for the browser runtime: the page, the TF.js bundles and the models.

Routes:
  ``/page.html``, ``/core.js``                 the measuring page (package data)
  ``/lib/<name>``                              tf.min.js, tf-backend-wasm.min.js, *.wasm
  ``/models/<id>/<policy>/<file>``             the files of a registered model

``<policy>`` is a cache policy: ``no-store`` answers ``Cache-Control: no-store``
(every load goes to the network), ``cache`` answers
``Cache-Control: public, max-age=3600`` (a reload comes from the HTTP cache).

Every request is logged with when its headers and its last byte went out and
how many bytes were sent, so a load that never finishes can be told apart:
a shard never requested, requested but not fully sent, or sent.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

CACHE_POLICIES = {
    "no-store": "no-store",
    "cache": "public, max-age=3600",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
}
CHUNK = 64 * 1024


@dataclass
class RequestRecord:
    """One request as the server saw it; times in ms since the server started."""

    path: str
    model_id: str | None
    file: str | None
    status: int = 0
    bytes_total: int = 0
    bytes_sent: int = 0
    received_ms: float = 0.0
    headers_ms: float | None = None
    done_ms: float | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.done_ms is not None and self.error is None


class ModelServer:
    """Threaded HTTP server on 127.0.0.1 with an ephemeral port; ``start()``/``stop()``."""

    def __init__(self, page_files: dict[str, Path], lib_files: dict[str, Path]) -> None:
        self.page_files = dict(page_files)
        self.lib_files = dict(lib_files)
        self.models: dict[str, Path] = {}
        self.log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._origin = time.perf_counter()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the model server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loadbudget-model-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def add_model(self, directory: Path) -> str:
        """Serve the files under ``directory``; returns the id in its URLs (new on each call)."""
        model_id = uuid.uuid4().hex[:12]
        self.models[model_id] = directory.resolve()
        return model_id

    def model_url(self, model_id: str, policy: str, name: str = "model.json") -> str:
        if policy not in CACHE_POLICIES:
            raise ValueError(f"cache policy {policy!r} unknown; choose one of {', '.join(CACHE_POLICIES)}")
        return f"{self.url}/models/{model_id}/{policy}/{name}"

    def requests_for(self, model_id: str) -> list[RequestRecord]:
        with self._lock:
            return [record for record in self.log if record.model_id == model_id]

    def now_ms(self) -> float:
        return (time.perf_counter() - self._origin) * 1000

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self.log.append(record)


def records_as_dicts(records: list[RequestRecord]) -> list[dict[str, Any]]:
    return [dict(asdict(record), complete=record.complete) for record in records]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing its connections (page closed at a timeout) resets
        # them; the request log already holds what matters.
        pass


class _Handler(BaseHTTPRequestHandler):
    owner: ModelServer
    # Keep-alive, as production servers answer: the browser then holds at
    # most 6 connections to the host, which a real load is subject to.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm
        # the body then waits for the client's delayed ACK (40 ms on Linux),
        # a cost of this server and not of the model.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the record; stderr stays quiet

    def do_GET(self) -> None:
        owner = self.owner
        path = unquote(urlsplit(self.path).path)
        record = RequestRecord(path=path, model_id=None, file=None, received_ms=owner.now_ms())
        owner.record(record)
        target, cache_control = self._route(path, record)
        if target is None or not target.is_file():
            record.status = HTTPStatus.NOT_FOUND
            # Done before it is sent: the client may read the log as soon as the answer reaches it.
            record.done_ms = owner.now_ms()
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        record.bytes_total = target.stat().st_size
        record.status = HTTPStatus.OK
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPES.get(target.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(record.bytes_total))
            self.send_header("Cache-Control", cache_control)
            self.end_headers()
            self.wfile.flush()
            record.headers_ms = owner.now_ms()
            with target.open("rb") as stream:
                while chunk := stream.read(CHUNK):
                    # Blocks while the browser does not read: the bytes sent
                    # then show how far a stalled response got.
                    self.wfile.write(chunk)
                    record.bytes_sent += len(chunk)
            self.wfile.flush()
            record.done_ms = owner.now_ms()
        except OSError as error:  # the browser went away (timeout, closed page)
            record.error = f"{type(error).__name__}: {error}"
            self.close_connection = True

    def _route(self, path: str, record: RequestRecord) -> tuple[Path | None, str]:
        owner = self.owner
        parts = path.strip("/").split("/")
        if len(parts) == 1 and parts[0] in owner.page_files:
            return owner.page_files[parts[0]], "no-store"
        if len(parts) == 2 and parts[0] == "lib" and parts[1] in owner.lib_files:
            return owner.lib_files[parts[1]], CACHE_POLICIES["cache"]
        if len(parts) >= 4 and parts[0] == "models" and parts[2] in CACHE_POLICIES:
            record.model_id = parts[1]
            record.file = "/".join(parts[3:])
            base = owner.models.get(parts[1])
            if base is None:
                return None, ""
            target = (base / record.file).resolve()
            if not target.is_relative_to(base):
                return None, ""
            return target, CACHE_POLICIES[parts[2]]
        return None, ""
