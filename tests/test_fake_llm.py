"""Tests of the scripted fake APIs for Codex, Gemini CLI and Aider themselves (fast: no program, no tmux)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support.fake_chat_completions import FakeChatCompletions
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Rule, Text


def chat(text: str, *, stream: bool = True) -> bytes:
    return json.dumps({"model": "fake", "stream": stream, "messages": [{"role": "user", "content": text}]}).encode()


def post(url: str, payload: bytes) -> bytes:
    request = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def test_a_hang_up_marks_the_answer_it_cut_short_not_a_later_one() -> None:
    release = threading.Event()
    with FakeChatCompletions([Rule.when("slow", Text("never read"), gate=release)]) as api:
        payload = chat("slow")
        with socket.create_connection(("127.0.0.1", api.port), timeout=5) as conn:
            conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            api.wait_user("slow", timeout=5)
            # Another request is answered in full while the first one waits for its gate.
            assert b"OK." in post(api.base_url + "/chat/completions", chat("quick"))
        slow, quick = api.main_requests
        assert wait_until(lambda: slow.aborted), api.summary()
        assert not quick.aborted
        release.set()


def test_rules_fire_their_times_then_the_default_answers() -> None:
    with FakeChatCompletions([Rule.when("go", Text("first"), times=1)], default=Text("later")) as api:
        assert b"first" in post(api.base_url + "/chat/completions", chat("go"))
        assert b"later" in post(api.base_url + "/chat/completions", chat("go"))
        assert [e.answer for e in api.main_requests] == [Text("first"), Text("later")]
        with pytest.raises(TimeoutError, match="fake-chat-completions"):
            api.wait_user("never asked", timeout=0.2)


def test_requests_outside_the_script_are_recorded_not_main() -> None:
    with FakeGemini() as api:
        counted = json.loads(post(api.url + "/v1beta/models/m:countTokens", chat("count")))
        assert counted["totalTokens"] > 0
        with pytest.raises(urllib.error.HTTPError) as unknown:
            post(api.url + "/v1beta/models/m:doSomethingElse", chat("x"))
        assert unknown.value.code == 404
        with urllib.request.urlopen(api.url + "/v1beta/models", timeout=5) as response:
            assert json.loads(response.read()) == {}
        assert [(e.method, e.path, e.main) for e in api.log] == [
            ("POST", "/v1beta/models/m:countTokens", False),
            ("POST", "/v1beta/models/m:doSomethingElse", False),
            ("GET", "/v1beta/models", False),
        ]
