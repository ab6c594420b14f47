"""The HTTP plumbing every fake model API shares: a quiet JSON handler and a server run in a thread.

:class:`tests.support.fake_api.FakeAnthropic` (for Claude Code) and
:class:`tests.support.fake_llm.FakeLLM` (for Codex, Gemini CLI and Aider)
differ in what they answer, not in how they read a body, write JSON or an
event stream, or bind an ephemeral port::

    class Echo(FakeServer):
        handler = MyHandler          # a JsonHandler subclass; self.server.owner is the Echo
        name = "echo"

    with Echo() as api:
        ...  # api.url is http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, TypeVar

__all__ = ["FakeServer", "JsonHandler", "OwnedServer"]

JsonDict = dict[str, Any]
_S = TypeVar("_S", bound="FakeServer")


class JsonHandler(BaseHTTPRequestHandler):
    """Reads JSON bodies and writes JSON or server-sent-event replies, logging nothing."""

    server: OwnedServer
    #: Headers added to every reply (Claude Code expects a ``request-id``).
    extra_headers: ClassVar[tuple[tuple[str, str], ...]] = ()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet (the default logs every request on stderr)."""

    def read_body(self) -> JsonDict | None:
        """The request's JSON object; None when empty, ``{"_raw": text}`` or ``{"_json": value}`` otherwise."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            decoded = json.loads(raw)
        except ValueError:
            return {"_raw": raw.decode("utf-8", "replace")}
        return decoded if isinstance(decoded, dict) else {"_json": decoded}

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._send_extra_headers()
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        """Headers of a server-sent-events reply (the connection closes at its end)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self._send_extra_headers()
        self.end_headers()
        self.close_connection = True

    def _send_extra_headers(self) -> None:
        for key, value in self.extra_headers:
            self.send_header(key, value)


class OwnedServer(ThreadingHTTPServer):
    """A threading HTTP server on an ephemeral local port that knows the fake it serves."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: Any, handler: type[JsonHandler]) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), handler)


class FakeServer:
    """Serves ``handler`` on ``127.0.0.1:<ephemeral port>`` from a daemon thread; a context manager."""

    handler: ClassVar[type[JsonHandler]] = JsonHandler
    #: The serving thread's name, and how errors name this fake.
    name = "fake-server"

    _server: OwnedServer | None = None
    _thread: threading.Thread | None = None

    def start(self: _S) -> _S:
        """Bind the port and serve in a daemon thread; return ``self``."""
        if self._server is None:
            self._server = OwnedServer(self, self.handler)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on (the server must be started)."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path): the base URL to give the program."""
        return f"http://127.0.0.1:{self.port}"
