"""Tests of the fake Anthropic Messages API itself (fast: no claude, no tmux)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest


from support.fake_api import (
    FakeAnthropic,
    Reply,
    bash,
    has_tool_result,
    is_main_request,
    last_user_text,
)

BASH_TOOL = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}


def main_body(*messages: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    """Return a main-conversation request body (it offers the Bash tool)."""
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 1000,
        "stream": stream,
        "system": [{"type": "text", "text": "You are Claude Code"}],
        "tools": [BASH_TOOL],
        "messages": list(messages),
    }


def user(text: str) -> dict[str, Any]:
    """Return a user message shaped like Claude Code's (a system reminder, then the text)."""
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>\nrun the tool, said the reminder\n</system-reminder>\n"},
            {"type": "text", "text": text},
        ],
    }


def tool_result(output: str, tool_id: str = "toolu_1") -> dict[str, Any]:
    """Return a user message carrying a tool result."""
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": output}]}


def post(api: FakeAnthropic, path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    """POST ``body`` as JSON; return the response's content type and raw bytes."""
    request = urllib.request.Request(
        api.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers.get("Content-Type")), response.read()


def post_json(api: FakeAnthropic, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST and decode a JSON answer."""
    content_type, raw = post(api, path, body)
    assert content_type == "application/json"
    decoded = json.loads(raw)
    assert isinstance(decoded, dict)
    return decoded


def post_stream(api: FakeAnthropic, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """POST a streaming request; return the ``(event, data)`` pairs, pings left out."""
    content_type, raw = post(api, "/v1/messages?beta=true", body)
    assert content_type == "text/event-stream"
    events = []
    for chunk in raw.decode().split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        if lines["event"] != "ping":
            events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    """Serve a fake API with a tool rule, two after-tool rules and a default reply."""
    rules = [
        Reply.when("run the tool", bash("echo hi", "Say hi")),
        Reply.after_tool("Done: hi", contains="hi"),
        Reply.after_tool("Done, whatever it said."),
    ]
    with FakeAnthropic(rules, default="Default answer.") as server:
        yield server


def test_url_is_loopback_with_ephemeral_port(api: FakeAnthropic) -> None:
    assert api.url == f"http://127.0.0.1:{api.port}"
    assert api.port > 0


def test_get_and_other_posts_answer_empty_object(api: FakeAnthropic) -> None:
    with urllib.request.urlopen(api.url + "/api/hello", timeout=5) as response:
        assert json.loads(response.read()) == {}
    assert post_json(api, "/api/event_logging/batch", {"events": []}) == {}
    assert api.requests == []  # only /v1/messages bodies are kept there
    assert [(r.method, r.path) for r in api.log] == [("GET", "/api/hello"), ("POST", "/api/event_logging/batch")]


def test_count_tokens(api: FakeAnthropic) -> None:
    answer = post_json(api, "/v1/messages/count_tokens?beta=true", main_body(user("hello")))
    assert isinstance(answer["input_tokens"], int) and answer["input_tokens"] > 0
    assert api.requests == []


def test_non_streaming_default_reply(api: FakeAnthropic) -> None:
    message = post_json(api, "/v1/messages", main_body(user("hello")))
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-opus-4-8"
    assert message["stop_reason"] == "end_turn"
    assert message["content"] == [{"type": "text", "text": "Default answer."}]
    assert message["usage"]["input_tokens"] > 0
    assert api.requests == [main_body(user("hello"))]


def test_streamed_text_follows_the_api_event_order(api: FakeAnthropic) -> None:
    events = post_stream(api, main_body(user("hello"), stream=True))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["content"] == []
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Default answer."}
    assert events[4][1]["delta"]["stop_reason"] == "end_turn"
    assert "output_tokens" in events[4][1]["usage"]


def test_rule_answers_with_a_bash_tool_use(api: FakeAnthropic) -> None:
    events = post_stream(api, main_body(user("please run the tool now"), stream=True))
    block = events[1][1]["content_block"]
    assert block["type"] == "tool_use" and block["name"] == "Bash" and block["input"] == {}
    assert block["id"].startswith("toolu_")
    delta = events[2][1]["delta"]
    assert delta["type"] == "input_json_delta"
    assert json.loads(delta["partial_json"]) == {"command": "echo hi", "description": "Say hi"}
    assert events[4][1]["delta"]["stop_reason"] == "tool_use"


def test_tool_use_ids_are_unique(api: FakeAnthropic) -> None:
    first = post_json(api, "/v1/messages", main_body(user("run the tool")))
    second = post_json(api, "/v1/messages", main_body(user("run the tool")))
    assert first["content"][0]["id"] != second["content"][0]["id"]
    assert first["id"] != second["id"]


def test_after_tool_rules_match_the_tool_result(api: FakeAnthropic) -> None:
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]}
    said_hi = post_json(api, "/v1/messages", main_body(user("run the tool"), call, tool_result("hi")))
    assert said_hi["content"][0]["text"] == "Done: hi"
    said_else = post_json(api, "/v1/messages", main_body(user("run the tool"), call, tool_result("bye")))
    assert said_else["content"][0]["text"] == "Done, whatever it said."


def test_rules_skip_a_trailing_system_message_and_reminders() -> None:
    # Claude Code 2.1.197 sends a role "system" message after the user's first message.
    body = main_body(user("please run the tool"), {"role": "system", "content": "Available agent types"})
    assert last_user_text(body) == "please run the tool"
    assert not has_tool_result(body)
    # Text inside a system reminder does not trigger a rule.
    assert last_user_text(main_body(user("hello"))) == "hello"


def test_side_requests_never_get_scripted_answers(api: FakeAnthropic) -> None:
    side = {"model": "claude-haiku-4-5", "max_tokens": 50, "tools": [], "messages": [user("run the tool")]}
    assert not is_main_request(side)
    message = post_json(api, "/v1/messages", side)
    assert message["stop_reason"] == "end_turn"
    assert message["content"][0]["text"] == "Test session"
    assert api.main_requests == []
    assert api.requests == [side]


def test_side_request_asking_for_json_gets_matching_json(api: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    side = {
        "model": "claude-haiku-4-5",
        "stream": True,
        "tools": [],
        "messages": [user("make a title")],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    events = post_stream(api, side)
    assert json.loads(events[2][1]["delta"]["text"]) == {"title": "Test session"}


def test_times_limits_a_rule() -> None:
    with FakeAnthropic([Reply.when("go", "first", times=1)], default="later") as api:
        assert post_json(api, "/v1/messages", main_body(user("go")))["content"][0]["text"] == "first"
        assert post_json(api, "/v1/messages", main_body(user("go")))["content"][0]["text"] == "later"


def test_rules_can_be_added_while_serving() -> None:
    with FakeAnthropic() as api:
        api.add(Reply.when("ping", "pong"))
        assert post_json(api, "/v1/messages", main_body(user("ping")))["content"][0]["text"] == "pong"


def test_wait_for_request_sees_requests_from_other_threads(api: FakeAnthropic) -> None:
    def later() -> None:
        time.sleep(0.2)
        post_json(api, "/v1/messages", main_body(user("from a thread")))

    worker = threading.Thread(target=later)
    worker.start()
    body = api.wait_for_request(lambda b: "from a thread" in last_user_text(b), timeout=5)
    worker.join()
    assert last_user_text(body) == "from a thread"
    with pytest.raises(TimeoutError):
        api.wait_for_request(lambda b: True, timeout=0.2, start=len(api.requests))


def test_delay_holds_the_stream_open() -> None:
    with FakeAnthropic([Reply.when("slow", "finally", delay=0.6)]) as api:
        started = time.monotonic()
        events = post_stream(api, main_body(user("slow"), stream=True))
        assert time.monotonic() - started >= 0.6
        assert events[2][1]["delta"]["text"] == "finally"


def test_client_leaving_during_a_delay_is_recorded_as_aborted() -> None:
    with FakeAnthropic([Reply.when("slow", "never read", delay=3)]) as api:
        payload = json.dumps(main_body(user("slow"), stream=True)).encode()
        with socket.create_connection(("127.0.0.1", api.port), timeout=5) as conn:
            conn.sendall(
                b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            received = b""
            while b"message_start" not in received:
                chunk = conn.recv(65536)
                assert chunk, "the server closed before message_start"
                received += chunk
        deadline = time.monotonic() + 3
        while not api.log[-1].aborted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.log[-1].aborted
