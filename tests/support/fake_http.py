"""What every fake model API shares: a script of replies, a record of requests, a server in a thread.

:class:`tests.support.fake_api.FakeAnthropic` (for Claude Code) and
:class:`tests.support.fake_llm.FakeLLM` (for Codex, Gemini CLI and Aider)
differ only in their wire format: how a request is read and an answer written.
The rest lives here once:

* :class:`ScriptedFake`: rules tried in order (each may fire a limited number of
  ``times``), a default answer, every request recorded (:class:`Recorded`) and a way
  to wait for one from the test's thread, served by :class:`FakeServer` on
  ``127.0.0.1:<ephemeral port>`` from a daemon thread;
* :class:`JsonHandler`: reads JSON bodies, writes JSON or server-sent events, waits as a
  rule says while noticing a program that hangs up, records the answer it was writing as
  ``aborted`` when one does, and hands every ``POST`` to the fake's ``handle_post``::

    class Echo(ScriptedFake[EchoRule]):
        name = "echo"

        def handle_post(self, handler, path, body):
            rule = self.pick(body)
            handler.answering = self.record(Recorded("POST", path, body, main=True, answer=...))
            handler.send_json(200, {...})

    with Echo() as api:
        ...  # api.url is http://127.0.0.1:PORT
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

__all__ = ["FakeServer", "Hangup", "JsonHandler", "OwnedServer", "Recorded", "ScriptedFake", "endpoint"]

JsonDict = dict[str, Any]
_S = TypeVar("_S", bound="FakeServer")
_T = TypeVar("_T")
_E = TypeVar("_E", bound="Recorded")


def endpoint(path: str) -> str:
    """A request path without its query or a trailing slash.

    >>> endpoint("/v1/messages/?beta=true")
    '/v1/messages'
    """
    return path.split("?", 1)[0].rstrip("/")


class Hangup(Exception):
    """The program closed the connection while an answer was being written."""


@dataclass
class Recorded:
    """One HTTP request the server received (every method and path)."""

    method: str
    path: str
    body: JsonDict | None
    #: It belongs to the main conversation (the one the rules answer).
    main: bool = False
    #: What it was answered (in the fake's own terms), for requests the script answers.
    answer: Any = None
    #: The program hung up before the answer was complete (an interrupt).
    aborted: bool = False
    at: float = field(default_factory=time.monotonic)


class JsonHandler(BaseHTTPRequestHandler):
    """Reads JSON bodies and writes JSON or server-sent-event replies, logging nothing.

    ``GET`` is recorded and answered ``{}``; ``POST`` goes to the owning fake's ``handle_post``.
    """

    server: OwnedServer
    #: Headers added to every reply (Claude Code expects a ``request-id``).
    extra_headers: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: The recorded request whose answer is being written: marked aborted if the program hangs up.
    answering: Recorded | None = None

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
        self.write(data)

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

    def write(self, data: bytes) -> None:
        """Write and flush ``data``; :class:`Hangup` when the program has gone."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise Hangup from exc

    def pause(self, delay: float, keepalive: bytes | None, gate: threading.Event | None = None) -> None:
        """Wait ``delay`` seconds, or until ``gate`` is set (at most ten minutes).

        ``keepalive`` is written every quarter second meanwhile (a stream's comment or
        ping), which is how a hang-up is noticed; without it the socket is watched instead.
        Either way the wait ends early with :class:`Hangup` when the program hangs up.
        """
        if gate is None and delay <= 0:
            return
        deadline = time.monotonic() + (delay if gate is None else 600.0)
        while time.monotonic() < deadline:
            if gate is not None and gate.wait(0.25):
                return
            if gate is None:
                time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
            if keepalive:
                self.write(keepalive)
            elif self._peer_gone():
                raise Hangup

    def _peer_gone(self) -> bool:
        """Tell (without writing) whether the program closed its end."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.owner.unscripted(self, None, 200, {})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.answering = None
        body = self.read_body() or {}
        owner = self.server.owner
        try:
            owner.handle_post(self, self.path, body)
        except (Hangup, BrokenPipeError, ConnectionResetError):  # the latter two: while writing headers
            if self.answering is not None:
                owner.mark_aborted(self.answering)


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


class ScriptRule(Protocol):
    """What :meth:`ScriptedFake.pick` needs of a rule (each fake has its own rule type)."""

    @property
    def predicate(self) -> Callable[[Any], bool]: ...

    @property
    def times(self) -> int | None: ...


_R = TypeVar("_R", bound=ScriptRule)


class ScriptedFake(FakeServer, Generic[_R]):
    """A fake API answering from a script of rules and recording every request.

    Subclasses implement :meth:`handle_post` (their wire format) with :meth:`pick`,
    :meth:`record` and :meth:`next_id`; ``recorded`` is their :class:`Recorded` type.
    """

    recorded: ClassVar[type[Recorded]] = Recorded

    def __init__(self, rules: Sequence[_R], *, default: Any, side_reply: str) -> None:
        self.rules: list[_R] = list(rules)
        #: The answer when no rule matches a main request.
        self.default = default
        #: The text side requests (titles, routers, quota checks) get; they never consume rules.
        self.side_reply = side_reply
        self._lock = threading.Condition()
        self._log: list[Recorded] = []
        self._fired: dict[int, int] = {}
        self._ids = itertools.count(1)

    def handle_post(self, handler: JsonHandler, path: str, body: JsonDict) -> None:  # pragma: no cover - abstract
        """Answer a ``POST``; set ``handler.answering`` to the entry whose answer is being written."""
        raise NotImplementedError

    # -- scripting ---------------------------------------------------------

    def add(self, *rules: _R) -> None:
        """Append rules while serving (they are tried after the existing ones)."""
        with self._lock:
            self.rules.extend(rules)

    def pick(self, subject: Any) -> _R | None:
        """The first rule whose predicate holds for ``subject``, counting its use; None when none does."""
        with self._lock:
            for index, rule in enumerate(self.rules):
                used = self._fired.get(index, 0)
                if rule.times is not None and used >= rule.times:
                    continue
                if rule.predicate(subject):
                    self._fired[index] = used + 1
                    return rule
        return None

    def unscripted(self, handler: JsonHandler, body: JsonDict | None, status: int, payload: Any) -> None:
        """Record a request the rules have no say in (a token count, an unknown path) and answer ``payload``."""
        self.record(self.recorded(handler.command, handler.path, body))
        handler.send_json(status, payload)

    def next_id(self) -> int:
        """1, 2, 3...: numbers for the ids of answers."""
        return next(self._ids)

    # -- records -----------------------------------------------------------

    def record(self, entry: _E) -> _E:
        """Add ``entry`` to the log, waking whoever waits; return it."""
        with self._lock:
            self._log.append(entry)
            self._lock.notify_all()
        return entry

    def mark_aborted(self, entry: Recorded) -> None:
        """``entry``'s answer was cut short by the program."""
        with self._lock:
            entry.aborted = True
            self._lock.notify_all()

    @property
    def log(self) -> list[Any]:
        """Every request received (any method and path), in order (a copy)."""
        with self._lock:
            return list(self._log)

    def wait_among(self, among: Callable[[list[Any]], list[_T]], predicate: Callable[[_T], bool],
                   timeout: float, *, start: int = 0, what: str = "request") -> _T:
        """The first of ``among(log)`` at index >= ``start`` matching ``predicate``, as soon as there is one.

        :class:`TimeoutError` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                seen = among(self._log)
                for item in seen[start:]:
                    if predicate(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no matching {what} within {timeout}s ({len(seen)} seen)")
                self._lock.wait(left)
