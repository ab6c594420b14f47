"""A scriptable stand-in for the Gemini API, for driving the real Gemini CLI offline.

Gemini CLI 0.61 (``GOOGLE_GEMINI_BASE_URL`` = :attr:`FakeGemini.url`) sends:

* ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse`` for a turn of the main
  conversation (it offers function declarations, ``run_shell_command`` among them):
  answered by the scripted :class:`~tests.support.fake_llm.Rule` as ``data:`` chunks;
* ``POST .../<model>:generateContent`` for side questions, e.g. the model router, which
  wants JSON fitting ``generationConfig.responseJsonSchema``: answered with a value of
  that schema (never consuming rules);
* ``POST .../<model>:countTokens``: a rough count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.fake_http import endpoint
from tests.support.fake_llm import Answer, Failure, FakeLLM, Handler, Recorded, Rule, Shell, Text, Turn, sample_for_schema

__all__ = ["FakeGemini", "Rule", "Shell", "Text", "Failure", "turn_of"]

JsonDict = dict[str, Any]

#: gRPC-style status names Google APIs put in an error body.
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def turn_of(body: JsonDict) -> Turn:
    """Read a generateContent body: the user's last typed text and a trailing tool result.

    >>> turn_of({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).user_text
    'hi'
    >>> turn_of({"contents": [{"role": "user", "parts": [{"text": "hi"}]},
    ...     {"role": "model", "parts": [{"functionCall": {"name": "x", "args": {}}}]},
    ...     {"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {"output": "42"}}}]}]}).tool_result
    '{"output": "42"}'
    """
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    user_text = ""
    for content in reversed(contents):
        if content.get("role") != "user":
            continue
        texts = [str(p["text"]) for p in content.get("parts") or [] if isinstance(p, dict) and "text" in p]
        if texts:
            user_text = "\n".join(texts)
            break
    tool_result = None
    if contents and contents[-1].get("role") == "user":
        responses = [p["functionResponse"] for p in contents[-1].get("parts") or []
                     if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]
        if responses:
            tool_result = "\n".join(json.dumps(r.get("response")) for r in responses)
    return Turn(user_text=user_text, tool_result=tool_result, body=body)


def _usage(body: JsonDict, out: int) -> JsonDict:
    prompt = max(1, len(json.dumps(body)) // 4)
    return {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out}


def chunk(answer: Text | Shell, body: JsonDict) -> JsonDict:
    """The one streamed chunk that carries a whole answer (``finishReason`` STOP).

    >>> chunk(Shell("ls"), {})["candidates"][0]["content"]["parts"][0]["functionCall"]["name"]
    'run_shell_command'
    """
    if isinstance(answer, Shell):
        part: JsonDict = {"functionCall": {"name": "run_shell_command",
                                           "args": {"command": answer.command, "description": "Run what the test asks"}}}
        out = 20
    else:
        part = {"text": answer.text}
        out = max(1, len(answer.text) // 4)
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": _usage(body, out), "modelVersion": "gemini-fake"}


class FakeGemini(FakeLLM):
    """A fake Gemini API; give Gemini CLI :attr:`url` as ``GOOGLE_GEMINI_BASE_URL``."""

    name = "fake-gemini"
    #: ``usage(n)``: the ``usageMetadata`` to report for the n-th answer of the main
    #: conversation (``promptTokenCount``, ``cachedContentTokenCount``...); None reports estimates.
    usage: Callable[[int], JsonDict] | None = None

    def handle_post(self, handler: Handler, path: str, body: JsonDict) -> None:
        method = endpoint(path).rsplit(":", 1)[-1]
        if method == "countTokens":
            self.unscripted(handler, body, 200, {"totalTokens": max(1, len(json.dumps(body)) // 4)})
            return
        if method not in ("streamGenerateContent", "generateContent"):
            self.unscripted(handler, body, 404, {"error": {"code": 404, "message": f"no such method {path}",
                                                           "status": "NOT_FOUND"}})
            return
        turn = turn_of(body)
        config = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        main = method == "streamGenerateContent" and bool(body.get("tools")) and not schema
        rule: Rule | None = None
        answer: Answer
        if main:
            answer, rule = self.choose(turn)
        elif schema:
            answer = Text(json.dumps(sample_for_schema(schema, self.side_reply)))
        else:
            answer = Text(self.side_reply)
        handler.answering = self.record(Recorded("POST", path, body, main=main, turn=turn, answer=answer))
        handler.hold(rule, None)
        if isinstance(answer, Failure):
            handler.send_json(answer.status, {"error": {"code": answer.status, "message": answer.message,
                                                        "status": _STATUS.get(answer.status, "UNKNOWN")}})
            return
        data = chunk(answer, body)
        if main and self.usage:
            data["usageMetadata"] = self.usage(self.next_id())
        if method == "generateContent":
            handler.send_json(200, data)
            return
        handler.start_stream()
        handler.write(f"data: {json.dumps(data)}\r\n\r\n".encode())
