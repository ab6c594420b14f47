"""A scriptable stand-in for the Anthropic Messages API, for driving the real Claude Code.

The real ``claude`` binary runs fully offline when ``ANTHROPIC_BASE_URL`` points at
this server (see ``tests/support/CLAUDE-NOTES.md``). The server answers:

* ``POST /v1/messages`` (``?beta=true`` or not), streamed as server-sent events when the
  body says ``"stream": true``, otherwise as one plain ``message`` object;
* ``POST /v1/messages/count_tokens`` with ``{"input_tokens": N}``;
* any other ``POST`` and any ``GET`` with ``{}``.

What the model "says" is scripted with rules, tried in order; the first that matches the
request wins, and a default text reply is used when none does::

    from tests.support.fake_api import FakeAnthropic, Reply, bash

    rules = [
        Reply.when("run the tool", bash("echo hi")),   # user asks -> Bash tool_use
        Reply.after_tool("All done."),                 # tool result -> final text
    ]
    with FakeAnthropic(rules) as api:
        ...  # run claude with ANTHROPIC_BASE_URL=api.url
        body = api.wait_for_request(lambda b: "run the tool" in last_user_text(b))

Rules apply only to the *main* conversation: the requests that offer Claude's tool set
(a ``Bash`` tool). Claude's side requests (session title, topic detection, quota checks
and other small model calls, which carry no tools) always get ``side_reply`` (as JSON
fitting the schema when they ask for structured output), so they never disturb the
scripted flow. Every request is recorded (``requests``, ``main_requests``, ``log``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support import fake_http
from tests.support.fake_http import JsonHandler, ScriptedFake, endpoint
from tests.support.fake_llm import content_text, sample_for_schema

__all__ = [
    "FakeAnthropic",
    "Recorded",
    "Reply",
    "ToolUse",
    "ApiError",
    "ask_user",
    "bash",
    "exit_plan_mode",
    "subagent",
    "is_main_request",
    "last_user_text",
    "last_user_message",
    "has_tool_result",
    "side_answer",
    "sse_events",
    "tool_results_text",
]

JsonDict = dict[str, Any]

SYSTEM_REMINDER = "<system-reminder>"


# --------------------------------------------------------------------------- #
# Reading a request body
# --------------------------------------------------------------------------- #


def _blocks(message: JsonDict) -> list[JsonDict]:
    """Return a message's content as a list of blocks (a bare string becomes one text block).

    >>> _blocks({"role": "user", "content": "hi"})
    [{'type': 'text', 'text': 'hi'}]
    """
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def last_user_message(body: JsonDict) -> JsonDict | None:
    """Return the last ``user`` message of the conversation, or ``None`` if there is none.

    Claude Code 2.1.x may put a ``role: "system"`` message (the list of agent types)
    *after* the user's message, so the last message is not always the user's.

    >>> last_user_message({"messages": [{"role": "user", "content": "a"},
    ...                                 {"role": "system", "content": "s"}]})
    {'role': 'user', 'content': 'a'}
    >>> last_user_message({"messages": []}) is None
    True
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return None


def last_user_text(body: JsonDict) -> str:
    """Return the text the user typed in the last message (system reminders left out).

    Claude Code adds ``<system-reminder>`` text blocks to user messages; they are skipped so
    that a rule matches what the user (or the test) actually typed. Tool results are not text.

    >>> last_user_text({"messages": [{"role": "user", "content": [
    ...     {"type": "text", "text": "<system-reminder>x</system-reminder>"},
    ...     {"type": "text", "text": "run the tool"}]}]})
    'run the tool'
    """
    message = last_user_message(body)
    if message is None:
        return ""
    texts = [
        str(b.get("text", ""))
        for b in _blocks(message)
        if b.get("type") == "text" and not str(b.get("text", "")).lstrip().startswith(SYSTEM_REMINDER)
    ]
    return "\n".join(texts)


def has_tool_result(body: JsonDict) -> bool:
    """Tell whether the last user message carries a ``tool_result`` block.

    >>> has_tool_result({"messages": [{"role": "user", "content": [
    ...     {"type": "tool_result", "tool_use_id": "t", "content": "hi"}]}]})
    True
    """
    message = last_user_message(body)
    return message is not None and any(b.get("type") == "tool_result" for b in _blocks(message))


def tool_results_text(body: JsonDict) -> str:
    """Return the joined text of the ``tool_result`` blocks of the last user message."""
    message = last_user_message(body)
    if message is None:
        return ""
    return "\n".join(content_text(b) for b in _blocks(message) if b.get("type") == "tool_result")


def is_main_request(body: JsonDict) -> bool:
    """Tell whether a ``/v1/messages`` body belongs to the main conversation.

    The main conversation offers Claude Code's tools (``Bash`` among them); side requests
    (title generation, topic detection, quota checks) offer none.

    >>> is_main_request({"tools": [{"name": "Bash"}], "messages": []})
    True
    >>> is_main_request({"messages": [{"role": "user", "content": "quota"}]})
    False
    """
    tools = body.get("tools")
    if not isinstance(tools, list):
        return False
    return any(isinstance(t, dict) and t.get("name") == "Bash" for t in tools)


def side_answer(body: JsonDict, text: str) -> str:
    """Return the reply to a side request: ``text``, or JSON when the request asks for it.

    Claude asks for structured output through ``output_config.format`` (a ``json_schema``),
    e.g. ``{"title": ...}`` for the session title; such requests get a matching JSON text.

    >>> side_answer({"output_config": {"format": {"type": "json_schema", "schema": {
    ...     "type": "object", "properties": {"title": {"type": "string"}}}}}}, "Test")
    '{"title": "Test"}'
    >>> side_answer({}, "Test")
    'Test'
    """
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return json.dumps(sample_for_schema(fmt.get("schema"), text))
    return text


# --------------------------------------------------------------------------- #
# Scripting
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ToolUse:
    """A ``tool_use`` block the fake model emits (``stop_reason`` becomes ``tool_use``).

    ``preface``: a text block sent before it in the same message (Claude Code then
    writes the message as two transcript lines with the same id).
    """

    name: str
    input: JsonDict
    preface: str = ""


def bash(command: str, description: str = "Run a shell command") -> ToolUse:
    """Return a ``tool_use`` of Claude Code's Bash tool running ``command``.

    >>> bash("echo hi").input["command"]
    'echo hi'
    """
    return ToolUse("Bash", {"command": command, "description": description})


@dataclass(frozen=True)
class ApiError:
    """An HTTP error the fake API answers instead of a message (a failed turn).

    400 is not retried by Claude Code: the turn fails at once with
    ``API Error: 400 <message>`` on the screen.
    """

    status: int = 400
    message: str = "Simulated failure for the test"
    kind: str = "invalid_request_error"

    def body(self) -> JsonDict:
        return {"type": "error", "error": {"type": self.kind, "message": self.message}, "request_id": "req_fake"}


def ask_user(question: str, options: Sequence[str] = ("Yes", "No"), header: str = "Choice") -> ToolUse:
    """A ``tool_use`` of Claude Code's AskUserQuestion tool: a question the user must answer."""
    return ToolUse(
        "AskUserQuestion",
        {"questions": [{"question": question, "header": header, "multiSelect": False,
                        "options": [{"label": o, "description": f"Answer {o}"} for o in options]}]},
    )


def exit_plan_mode(plan: str) -> ToolUse:
    """A ``tool_use`` of Claude Code's ExitPlanMode tool: the plan, waiting for the user's approval."""
    return ToolUse("ExitPlanMode", {"plan": plan})


def subagent(prompt: str, description: str = "Look around", agent_type: str = "general-purpose") -> ToolUse:
    """A ``tool_use`` of Claude Code's Agent (formerly Task) tool: a subagent doing ``prompt``."""
    return ToolUse("Agent", {"description": description, "prompt": prompt, "subagent_type": agent_type})


Answer = str | ToolUse | ApiError
Predicate = Callable[[JsonDict], bool]


@dataclass(frozen=True)
class Reply:
    """One scripted rule: when ``predicate(body)`` holds, answer with ``answer``.

    ``answer`` is either a text (the turn ends: ``stop_reason`` ``end_turn``) or a
    :class:`ToolUse` (``stop_reason`` ``tool_use``). ``delay`` seconds are spent after
    ``message_start`` and before the content, which keeps Claude "working" meanwhile.
    ``times`` limits how often the rule may fire (``None``: unlimited).
    Build rules with :meth:`when`, :meth:`after_tool`, :meth:`always` or :meth:`matching`.
    """

    predicate: Predicate
    answer: Answer
    delay: float = 0.0
    times: int | None = None
    label: str = ""

    @classmethod
    def when(cls, text: str, answer: Answer, *, delay: float = 0.0, times: int | None = None) -> Reply:
        """Fire when the last user message's typed text contains ``text``.

        >>> Reply.when("hello", "hi").predicate({"messages": [{"role": "user", "content": "hello!"}]})
        True
        """

        def predicate(body: JsonDict) -> bool:
            return text in last_user_text(body)

        return cls(predicate, answer, delay, times, f"when {text!r}")

    @classmethod
    def after_tool(
        cls, answer: Answer, *, contains: str | None = None, delay: float = 0.0, times: int | None = None
    ) -> Reply:
        """Fire when the last message is a tool result (whose text contains ``contains``, if given).

        >>> Reply.after_tool("ok").predicate({"messages": [{"role": "user", "content": "x"}]})
        False
        """

        def predicate(body: JsonDict) -> bool:
            if not has_tool_result(body):
                return False
            return contains is None or contains in tool_results_text(body)

        return cls(predicate, answer, delay, times, f"after_tool {contains!r}")

    @classmethod
    def always(cls, answer: Answer, *, delay: float = 0.0, times: int | None = None) -> Reply:
        """Fire on any main-conversation request (put it last, as a catch-all)."""
        return cls(lambda _body: True, answer, delay, times, "always")

    @classmethod
    def matching(
        cls, predicate: Predicate, answer: Answer, *, delay: float = 0.0, times: int | None = None
    ) -> Reply:
        """Fire when an arbitrary ``predicate(body)`` holds."""
        return cls(predicate, answer, delay, times, "matching")


@dataclass
class Recorded(fake_http.Recorded):
    """One HTTP request the server received (every method and path)."""

    #: The usage the answer reported (``input_tokens``, ``output_tokens``, cache counts), for messages.
    usage: JsonDict | None = None


# --------------------------------------------------------------------------- #
# Building responses
# --------------------------------------------------------------------------- #


def _estimate_tokens(body: JsonDict) -> int:
    """Return a rough, deterministic token count for a request body (4 bytes a token)."""
    return max(1, len(json.dumps(body)) // 4)


def _content_block(answer: Answer, tool_id: str) -> JsonDict:
    """Return the complete content block for an answer."""
    if isinstance(answer, ToolUse):
        return {"type": "tool_use", "id": tool_id, "name": answer.name, "input": dict(answer.input)}
    return {"type": "text", "text": answer}


def message_object(
    answer: Answer, *, model: str, message_id: str, tool_id: str, input_tokens: int, usage: JsonDict | None = None
) -> JsonDict:
    """Return a complete non-streaming ``message`` object for ``answer``.

    >>> m = message_object("hi", model="m", message_id="msg_1", tool_id="t", input_tokens=3)
    >>> (m["type"], m["stop_reason"], m["content"][0]["text"])
    ('message', 'end_turn', 'hi')
    """
    stop = "tool_use" if isinstance(answer, ToolUse) else "end_turn"
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [
            *([{"type": "text", "text": answer.preface}] if isinstance(answer, ToolUse) and answer.preface else []),
            _content_block(answer, tool_id),
        ],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": dict(usage) if usage else {"input_tokens": input_tokens, "output_tokens": _output_tokens(answer)},
    }


def _output_tokens(answer: Answer) -> int:
    """Return a rough output token count for an answer."""
    text = json.dumps(answer.input) if isinstance(answer, ToolUse) else answer
    return max(1, len(text) // 4)


def sse_events(
    answer: Answer, *, model: str, message_id: str, tool_id: str, input_tokens: int, usage: JsonDict | None = None
) -> list[tuple[str, JsonDict]]:
    """Return the ``(event, data)`` pairs of a streamed answer, in the API's order.

    >>> events = sse_events("hi", model="m", message_id="x", tool_id="t", input_tokens=1)
    >>> [e for e, _ in events]  # doctest: +NORMALIZE_WHITESPACE
    ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
     'message_delta', 'message_stop']
    """
    start = message_object(answer, model=model, message_id=message_id, tool_id=tool_id, input_tokens=input_tokens)
    start["content"] = []
    start["stop_reason"] = None
    # message_start carries the input side and a first output count; message_delta the final output count.
    final = dict(usage) if usage else {"input_tokens": input_tokens, "output_tokens": _output_tokens(answer)}
    start["usage"] = {**final, "output_tokens": 1}
    if isinstance(answer, ToolUse):
        block: JsonDict = {"type": "tool_use", "id": tool_id, "name": answer.name, "input": {}}
        delta: JsonDict = {"type": "input_json_delta", "partial_json": json.dumps(answer.input)}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": answer}
        stop = "end_turn"
    blocks: list[tuple[JsonDict, JsonDict]] = [(block, delta)]
    if isinstance(answer, ToolUse) and answer.preface:
        blocks.insert(0, ({"type": "text", "text": ""}, {"type": "text_delta", "text": answer.preface}))
    content: list[tuple[str, JsonDict]] = []
    for index, (first, more) in enumerate(blocks):
        content += [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": first}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": more}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    return [
        ("message_start", {"type": "message_start", "message": start}),
        *content,
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": final["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


# --------------------------------------------------------------------------- #
# The server
# --------------------------------------------------------------------------- #


def _is_message(entry: Recorded) -> bool:
    """Tell whether ``entry`` is a ``POST /v1/messages`` (count_tokens is not)."""
    return entry.method == "POST" and endpoint(entry.path).endswith("/v1/messages")


class _Handler(JsonHandler):
    """Request handler; all logic lives on the owning :class:`FakeAnthropic`."""

    extra_headers = (("request-id", "req_fake"),)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        """Answer any HEAD with an empty 200."""
        self.server.owner.record(Recorded("HEAD", self.path, None))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class FakeAnthropic(ScriptedFake[Reply]):
    """A fake Anthropic Messages API on ``127.0.0.1:<ephemeral port>``, run in a thread.

    ``rules`` are tried in order on main-conversation requests; ``default`` answers when none
    matches (after ``default_delay`` seconds); side requests always get ``side_reply``.
    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    >>> with FakeAnthropic() as api:
    ...     api.url.startswith("http://127.0.0.1:")
    True
    """

    handler = _Handler
    recorded = Recorded
    name = "FakeAnthropic"

    def __init__(
        self,
        rules: Sequence[Reply] = (),
        *,
        default: Answer = "OK.",
        default_delay: float = 0.0,
        side_reply: str = "Test session",
        usage: Callable[[int, JsonDict], JsonDict] | None = None,
    ) -> None:
        super().__init__(rules, default=default, side_reply=side_reply)
        self.default_delay = default_delay
        #: ``usage(n, body)``: the usage to report for the n-th message (main conversation only);
        #: None reports estimates (about 4 bytes a token).
        self.usage = usage

    # -- answering ---------------------------------------------------------

    def handle_post(self, handler: JsonHandler, path: str, body: JsonDict) -> None:
        """Answer a POST: messages, count_tokens, or anything else (``{}``)."""
        if endpoint(path).endswith("/v1/messages/count_tokens"):
            self.unscripted(handler, body, 200, {"input_tokens": _estimate_tokens(body)})
            return
        if not endpoint(path).endswith("/v1/messages"):
            self.unscripted(handler, body, 200, {})
            return
        main = is_main_request(body)
        answer: Answer
        if not main:
            answer, delay = side_answer(body, self.side_reply), 0.0
        else:
            rule = self.pick(body)
            if rule is not None:
                answer, delay = rule.answer, rule.delay
            else:
                answer, delay = self.default, self.default_delay
        entry = handler.answering = self.record(Recorded("POST", path, body, main=main, answer=answer))
        n = self.next_id()
        ids = f"msg_fake{n:06d}", f"toolu_fake{n:06d}"
        model = str(body.get("model") or "claude-fake")
        tokens = _estimate_tokens(body)
        if isinstance(answer, ApiError):
            handler.send_json(answer.status, answer.body())
            return
        usage = self.usage(n, body) if main and self.usage else None
        entry.usage = usage or {"input_tokens": tokens, "output_tokens": _output_tokens(answer)}
        if not body.get("stream"):
            handler.pause(delay, None)
            handler.send_json(200, message_object(answer, model=model, message_id=ids[0], tool_id=ids[1],
                                                  input_tokens=tokens, usage=usage))
            return
        handler.start_stream()
        for name, data in sse_events(answer, model=model, message_id=ids[0], tool_id=ids[1], input_tokens=tokens,
                                     usage=usage):
            handler.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            if name == "message_start":
                # Pings while Claude waits, so a Claude that hangs up (an interrupt) is noticed.
                handler.pause(delay, b'event: ping\ndata: {"type": "ping"}\n\n')

    # -- records -----------------------------------------------------------

    @property
    def requests(self) -> list[JsonDict]:
        """Bodies of every ``POST /v1/messages`` so far, in order (a copy)."""
        return [e.body for e in self.log if _is_message(e)]

    @property
    def main_requests(self) -> list[JsonDict]:
        """Bodies of the main-conversation ``POST /v1/messages`` so far, in order."""
        return [b for b in self.requests if is_main_request(b)]

    def wait_for_request(
        self, predicate: Predicate | None = None, timeout: float = 10.0, *, start: int = 0
    ) -> JsonDict:
        """Return the first ``/v1/messages`` body at index >= ``start`` matching ``predicate``.

        Blocks until one arrives; raises :class:`TimeoutError` after ``timeout`` seconds.
        Pass ``start=len(api.requests)`` to wait only for requests yet to come.
        """
        return self.wait_among(lambda log: [e.body for e in log if _is_message(e)], predicate or (lambda _b: True),
                               timeout, start=start)

    def iter_requests(self) -> Iterator[JsonDict]:
        """Iterate over a snapshot of the recorded ``/v1/messages`` bodies."""
        return iter(self.requests)
