"""A scriptable stand-in for OpenAI's Responses API, for driving the real Codex CLI offline.

Codex 0.171 sends only ``POST /v1/responses`` (``stream: true``) and reads server-sent
events. The main conversation offers tools (``exec_command`` among them); each new
conversation also asks once, without tools, for a short title: that side request gets
``side_reply``. Script it with :class:`~tests.support.fake_llm.Rule`::

    with FakeResponses([Rule.when("list", Shell("ls"))]) as api:
        ...  # codex -c model_providers.fake={base_url=api.base_url, ...}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.fake_http import endpoint
from tests.support.fake_llm import Answer, Failure, FakeLLM, Handler, Recorded, Rule, Shell, Text, Turn, content_text

__all__ = ["FakeResponses", "Rule", "Shell", "Text", "Failure", "turn_of"]

JsonDict = dict[str, Any]


def turn_of(body: JsonDict) -> Turn:
    """Read a Responses request: the user's last typed text and a trailing tool result.

    Codex sends its own context as user messages in angle-bracket tags
    (``<environment_context>``, ``<user_instructions>``); those are not what the user typed.

    >>> t = turn_of({"input": [{"type": "message", "role": "user", "content": [
    ...     {"type": "input_text", "text": "<environment_context>x</environment_context>"}]},
    ...     {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]})
    >>> (t.user_text, t.tool_result)
    ('hi', None)
    >>> turn_of({"input": [{"type": "function_call_output", "call_id": "c", "output": "42"}]}).tool_result
    '42'
    """
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    user_text = ""
    for item in reversed(items):
        if item.get("role") == "user":
            text = content_text(item).strip()
            if text and not text.startswith("<"):
                user_text = text
                break
    tool_result = None
    if items and items[-1].get("type") in ("function_call_output", "custom_tool_call_output"):
        output = items[-1].get("output")
        tool_result = output if isinstance(output, str) else json.dumps(output)
    return Turn(user_text=user_text, tool_result=tool_result, body=body)


def _tool_names(body: JsonDict) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")}


def _function_call(answer: Shell, body: JsonDict, call_id: str) -> JsonDict:
    """The ``function_call`` item for a shell command, in the tool the request offers."""
    if "exec_command" in _tool_names(body) or not _tool_names(body):
        args: JsonDict = {"cmd": answer.command}
        if answer.escalate:
            args.update(sandbox_permissions="require_escalated", justification="The test asks to run this.")
        name = "exec_command"
    else:
        args = {"command": ["bash", "-lc", answer.command]}
        if answer.escalate:
            args.update(sandbox_permissions="require_escalated", justification="The test asks to run this.")
        name = "shell"
    return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
            "arguments": json.dumps(args), "status": "completed"}


def events(answer: Text | Shell, body: JsonDict, n: int, usage: JsonDict | None = None) -> list[JsonDict]:
    """The server-sent events of one streamed answer, in the API's order (after ``response.created``).

    >>> [e["type"] for e in events(Text("hi"), {}, 1)]  # doctest: +NORMALIZE_WHITESPACE
    ['response.output_item.added', 'response.output_text.delta', 'response.output_item.done',
     'response.completed']
    """
    if isinstance(answer, Shell):
        item = _function_call(answer, body, f"call_fake{n:04d}")
        items = [
            {"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
        ]
        out_tokens = 20
    else:
        msg_id = f"msg_fake{n:04d}"
        items = [
            {"type": "response.output_item.added", "output_index": 0,
             "item": {"type": "message", "id": msg_id, "role": "assistant", "status": "in_progress", "content": []}},
            {"type": "response.output_text.delta", "item_id": msg_id, "output_index": 0, "content_index": 0,
             "delta": answer.text},
            {"type": "response.output_item.done", "output_index": 0,
             "item": {"type": "message", "id": msg_id, "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": answer.text, "annotations": []}]}},
        ]
        out_tokens = max(1, len(answer.text) // 4)
    in_tokens, cached = max(1, len(json.dumps(body)) // 4), 0
    if usage:  # known numbers (input_tokens counts the cached ones too, as the API does)
        in_tokens, cached, out_tokens = usage["input_tokens"], usage.get("cached_tokens", 0), usage["output_tokens"]
    done = {"type": "response.completed", "response": {
        "id": f"resp_fake{n:04d}", "object": "response", "status": "completed",
        "usage": {"input_tokens": in_tokens, "input_tokens_details": {"cached_tokens": cached},
                  "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": in_tokens + out_tokens}}}
    return [*items, done]


class FakeResponses(FakeLLM):
    """A fake ``/v1/responses`` endpoint; give Codex :attr:`base_url` in a custom model provider."""

    name = "fake-openai-responses"
    #: ``usage(n)``: the usage to report for the n-th answer of the main conversation
    #: (``input_tokens``, ``cached_tokens``, ``output_tokens``); None reports estimates.
    usage: Callable[[int], JsonDict] | None = None

    @property
    def base_url(self) -> str:
        """What Codex's provider ``base_url`` must be (it appends ``/responses``)."""
        return self.url + "/v1"

    def handle_post(self, handler: Handler, path: str, body: JsonDict) -> None:
        if not endpoint(path).endswith("/responses"):
            self.unscripted(handler, body, 404, {"error": {"message": f"no such endpoint {path}",
                                                           "type": "invalid_request_error"}})
            return
        main = bool(body.get("tools"))
        turn = turn_of(body)
        rule: Rule | None = None
        answer: Answer
        if main:
            answer, rule = self.choose(turn)
        else:
            answer = Text(self.side_reply)
        handler.answering = self.record(Recorded("POST", path, body, main=main, turn=turn, answer=answer))
        n = self.next_id()
        if isinstance(answer, Failure):
            handler.hold(rule, None)
            handler.send_json(answer.status, {"error": {"message": answer.message, "type": "invalid_request_error",
                                                        "code": "fake_error", "param": None}})
            return
        handler.start_stream()

        def send(data: JsonDict) -> None:
            handler.write(f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode())

        send({"type": "response.created", "response": {"id": f"resp_fake{n:04d}", "object": "response",
                                                       "status": "in_progress"}})
        handler.hold(rule, b": keep-alive\n\n")
        for data in events(answer, body, n, self.usage(n) if self.usage and main else None):
            send(data)
