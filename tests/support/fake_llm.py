"""What the fake model APIs for Codex, Gemini CLI and Aider share: scripting, recording, serving.

Each real program speaks its own wire format (:mod:`tests.support.fake_openai_responses`,
:mod:`tests.support.fake_gemini`, :mod:`tests.support.fake_chat_completions`), but a test
scripts them all the same way: rules tried in order on the *main* conversation (the
requests that offer the program's tools, or for Aider every chat request), the first
that matches answers, a default text otherwise::

    rules = [
        Rule.when("run the tool", Shell("echo hi")),   # user asks -> a shell tool call
        Rule.after_tool(Text("All done.")),             # tool result -> final text
        Rule.when("fail please", Failure(400, "bad")),  # an HTTP error instead of a reply
        Rule.when("hold on", Text("late"), gate=release),  # answer once ``release`` is set
    ]

A subclass turns a request body into a :class:`Turn` (what the user typed last, whether
the last item is a tool result) and an :data:`Answer` into its own bytes. Side requests
(a session title, Gemini's model router) get ``side_reply`` and never consume rules.
Every request is recorded (``log``; main ones in ``main_requests``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support import fake_http
from tests.support.fake_http import JsonHandler, ScriptedFake

__all__ = ["Answer", "FakeLLM", "Failure", "Handler", "Recorded", "Rule", "Shell", "Text", "Turn", "content_text",
           "sample_for_schema"]

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Text:
    """The model answers with text and ends its turn."""

    text: str


@dataclass(frozen=True)
class Shell:
    """The model asks to run a shell command (each program's own shell tool).

    ``escalate`` (Codex only) asks for running outside the sandbox, which brings up
    Codex's approval prompt.
    """

    command: str
    escalate: bool = True


@dataclass(frozen=True)
class Failure:
    """The API answers with an HTTP error instead of a reply."""

    status: int = 400
    message: str = "fake API error"


Answer = Text | Shell | Failure


@dataclass(frozen=True)
class Turn:
    """What a rule looks at: one request, read the same way for every wire format."""

    #: The text the user typed in the last user message (the program's own additions left out where known).
    user_text: str
    #: The text of the tool result the request carries last, or None when its last item is no tool result.
    tool_result: str | None
    #: The whole body, for predicates that need more.
    body: JsonDict


Predicate = Callable[[Turn], bool]


@dataclass(frozen=True)
class Rule:
    """When ``predicate(turn)`` holds, answer ``answer``.

    ``delay``: seconds to wait (streaming keep-alives) before the content; ``gate``: an
    event to wait for instead (set it to let the answer through; the wait ends early
    when the program hangs up, e.g. on an interrupt). ``times`` caps how often it fires.
    """

    predicate: Predicate
    answer: Answer
    delay: float = 0.0
    gate: threading.Event | None = None
    times: int | None = None
    label: str = ""

    @classmethod
    def when(
        cls, text: str, answer: Answer, *, delay: float = 0.0, gate: threading.Event | None = None,
        times: int | None = None,
    ) -> Rule:
        """Fire when the user's last typed text contains ``text`` (and no tool result follows it)."""
        return cls(lambda t: t.tool_result is None and text in t.user_text, answer, delay, gate, times, f"when {text!r}")

    @classmethod
    def after_tool(
        cls, answer: Answer, *, contains: str | None = None, delay: float = 0.0,
        gate: threading.Event | None = None, times: int | None = None,
    ) -> Rule:
        """Fire when the request ends with a tool result (whose text contains ``contains``, if given)."""

        def predicate(turn: Turn) -> bool:
            return turn.tool_result is not None and (contains is None or contains in turn.tool_result)

        return cls(predicate, answer, delay, gate, times, f"after_tool {contains!r}")

    @classmethod
    def always(cls, answer: Answer, *, delay: float = 0.0, gate: threading.Event | None = None,
               times: int | None = None) -> Rule:
        """Fire on any main request (put it last)."""
        return cls(lambda _t: True, answer, delay, gate, times, "always")


@dataclass
class Recorded(fake_http.Recorded):
    """One HTTP request the server received; a main one carries how its rules read it."""

    turn: Turn | None = None


def content_text(item: JsonDict) -> str:
    """The text of a message or tool result whose ``content`` is a string or a list of text parts.

    >>> content_text({"content": [{"type": "text", "text": "a"}, {"text": "b"}]})
    'a\\nb'
    """
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return ""


def sample_for_schema(schema: Any, text: str) -> Any:
    """A small value that satisfies a (simple) JSON schema, with ``text`` for strings.

    >>> sample_for_schema({"type": "object", "properties": {"reason": {"type": "string"},
    ...     "score": {"type": "integer"}}}, "T")
    {'reason': 'T', 'score': 0}
    """
    if not isinstance(schema, dict):
        return text
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return sample_for_schema(schema[key][0], text)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind == "object":
        props = schema.get("properties")
        return {k: sample_for_schema(v, text) for k, v in props.items()} if isinstance(props, dict) else {}
    if kind == "array":
        return []
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, (int, float)) else 0
    if kind == "null":
        return None
    return text


class Handler(JsonHandler):
    """HTTP plumbing; what to answer is decided by the owning :class:`FakeLLM`."""

    protocol_version = "HTTP/1.1"

    def hold(self, rule: Rule | None, keepalive: bytes | None) -> None:
        """Wait as ``rule`` says (its ``delay`` or its ``gate``), writing ``keepalive`` now and then."""
        if rule is not None:
            self.pause(rule.delay, keepalive, rule.gate)


class FakeLLM(ScriptedFake[Rule]):
    """A fake model API on ``127.0.0.1:<ephemeral port>``, served from a daemon thread.

    Subclasses implement :meth:`handle_post` with :meth:`choose` and :meth:`record`.
    """

    handler = Handler
    recorded = Recorded
    name = "fake-llm"

    def __init__(self, rules: Sequence[Rule] = (), *, default: Answer = Text("OK."),
                 side_reply: str = "Test session") -> None:
        super().__init__(rules, default=default, side_reply=side_reply)

    def choose(self, turn: Turn) -> tuple[Answer, Rule | None]:
        """The answer to a main request (counting the rule's use)."""
        rule = self.pick(turn)
        return (rule.answer, rule) if rule is not None else (self.default, None)

    @property
    def main_requests(self) -> list[Recorded]:
        return [e for e in self.log if e.main]

    def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 30.0, *, start: int = 0) -> Recorded:
        """The first main request at index >= ``start`` (in ``main_requests``) matching ``predicate``."""
        return self.wait_among(lambda log: [e for e in log if e.main], predicate, timeout, start=start,
                               what="main request")

    def wait_user(self, text: str, timeout: float = 30.0) -> Recorded:
        """The first main request whose user text contains ``text``."""
        return self.wait_for(lambda e: e.turn is not None and text in e.turn.user_text, timeout)

    def summary(self) -> str:
        """The main requests so far, one short line each (for failure messages)."""
        lines = []
        for e in self.main_requests:
            turn = e.turn
            what = "tool:" + (turn.tool_result or "")[:40] if turn and turn.tool_result is not None else (turn.user_text[-60:] if turn else "")
            lines.append(f"{what!r} -> {e.answer!r}{' (aborted)' if e.aborted else ''}")
        return "\n".join(lines) or "(no main requests)"
