"""A scriptable stand-in for OpenAI's Chat Completions API, for driving the real Aider offline.

Aider 0.86 (through litellm, ``OPENAI_API_BASE`` = :attr:`FakeChatCompletions.base_url`)
sends ``POST /v1/chat/completions`` with ``stream: true`` and reads ``chat.completion.chunk``
deltas, then ``data: [DONE]``. Aider has no tool calls: it runs shell commands the reply
suggests in a fenced ``bash`` block (after asking), so :class:`~tests.support.fake_llm.Shell`
becomes such a block. Aider appends its own instructions to the user's message after a blank line;
rules see only what comes before it. A command's output comes back as a user message (when the user lets
it into the chat); :attr:`Turn.tool_result` is that message's text.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.fake_http import endpoint
from tests.support.fake_llm import Answer, Failure, FakeLLM, Handler, Recorded, Rule, Shell, Text, Turn, content_text

__all__ = ["FakeChatCompletions", "Rule", "Shell", "Text", "Failure", "turn_of", "reply_text"]

JsonDict = dict[str, Any]

#: How Aider introduces a shell command's output it adds to the chat.
OUTPUT_MARK = "Output from"


def turn_of(body: JsonDict) -> Turn:
    """Read a chat body: the last user message, which is a tool result when it carries command output.

    >>> turn_of({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}).user_text
    'hi'
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [content_text(m) for m in messages if m.get("role") == "user"]
    last = users[-1] if users else ""
    tool_result = last if OUTPUT_MARK in last else None
    # Aider appends its edit-format rules after a blank line: what was typed comes first.
    return Turn(user_text=last.split("\n\n", 1)[0], tool_result=tool_result, body=body)


def reply_text(answer: Text | Shell) -> str:
    """What the model writes: the text, or a fenced shell block Aider offers to run.

    >>> print(reply_text(Shell("ls")))
    Run this:
    <BLANKLINE>
    ```bash
    ls
    ```
    """
    if isinstance(answer, Shell):
        return f"Run this:\n\n```bash\n{answer.command}\n```"
    return answer.text


class FakeChatCompletions(FakeLLM):
    """A fake ``/v1/chat/completions``; give Aider :attr:`base_url` as ``OPENAI_API_BASE``."""

    name = "fake-chat-completions"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def handle_post(self, handler: Handler, path: str, body: JsonDict) -> None:
        if not endpoint(path).endswith("/chat/completions"):
            self.unscripted(handler, body, 404, {"error": {"message": f"no such endpoint {path}",
                                                           "type": "invalid_request_error"}})
            return
        turn = turn_of(body)
        answer, rule = self.choose(turn)
        handler.answering = self.record(Recorded("POST", path, body, main=True, turn=turn, answer=answer))
        n = self.next_id()
        model = str(body.get("model") or "fake")
        if isinstance(answer, Failure):
            handler.hold(rule, None)
            handler.send_json(answer.status, {"error": {"message": answer.message, "type": "invalid_request_error",
                                                        "param": None, "code": "fake_error"}})
            return
        text = reply_text(answer)
        base = {"id": f"chatcmpl-fake{n:04d}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}
        if not body.get("stream"):
            handler.hold(rule, None)
            handler.send_json(200, {**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
            return
        handler.start_stream()

        def send(data: JsonDict | str) -> None:
            handler.write(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode())

        send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        handler.hold(rule, b": keep-alive\n\n")
        send({**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})
        prompt = max(1, len(json.dumps(body)) // 4)
        out = max(1, len(text) // 4)
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}})
        send("[DONE]")
