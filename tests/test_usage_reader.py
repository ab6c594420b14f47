"""The incremental transcript reader (agents_tmux.usage) on real files.

Lines are in the shape Claude Code 2.1.197 writes (one JSON object per line,
compact); the figures are checked against sums worked out by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agents_tmux.usage import Tally, budget_level, budget_use, dumps, loads

MODEL = "claude-opus-4-8"


def reply(msg_id: str, usage: tuple[int, int, int, int], *, model: str = MODEL, at: str = "2026-12-01T04:15:05.023Z",
          sidechain: bool = False, text: str = "Done.") -> str:
    """An assistant line: usage is (input, output, cache write, cache read)."""
    entry: dict[str, Any] = {
        "parentUuid": "p", "isSidechain": sidechain, "userType": "external", "cwd": "/w", "sessionId": "s",
        "version": "2.1.197", "gitBranch": "agent/x",
        "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "cache_creation_input_tokens": usage[2],
                      "cache_read_input_tokens": usage[3], "output_tokens": usage[1], "service_tier": "standard"},
        },
        "requestId": "req_" + msg_id, "type": "assistant", "uuid": "u-" + msg_id, "timestamp": at,
    }
    return json.dumps(entry, separators=(",", ":")) + "\n"


def user(text: str) -> str:
    """A user line whose tool result quotes usage and assistant JSON (must not be counted)."""
    entry = {
        "type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "content": text}]},
        "toolUseResult": {"role": "assistant", "type": "assistant", "usage": {"input_tokens": 999, "output_tokens": 999}},
        "timestamp": "2026-12-01T04:15:04.000Z",
    }
    return json.dumps(entry, separators=(",", ":")) + "\n"


def read(path: Path, state: Path) -> Tally:
    """Load the saved tally, read what is new, save it again (what the hook does)."""
    tally = Tally.load(str(path), str(state))
    tally.update()
    tally.save(str(state))
    return tally


def test_counts_each_reply_once_and_only_new_bytes(tmp_path: Path) -> None:
    transcript, state = tmp_path / "s.jsonl", tmp_path / "state"
    # msg_1 is one reply written over two lines (a text block, then a tool_use block).
    transcript.write_text(
        user('{"usage": 5, "type": "assistant"}') + reply("msg_1", (10, 3, 100, 0)) + reply("msg_1", (10, 7, 100, 0))
        + reply("msg_2", (4, 20, 0, 110))
    )
    tally = read(transcript, state)
    assert tally.models == {MODEL: [14, 27, 100, 110]}
    assert tally.replies == 2
    assert tally.context_tokens == 4 + 0 + 110

    # A line being written: nothing counted yet, the offset stays before it.
    size = transcript.stat().st_size
    line = reply("msg_3", (1, 2, 3, 4000))
    with transcript.open("a") as handle:
        handle.write(line[:40])
    tally = read(transcript, state)
    assert tally.models == {MODEL: [14, 27, 100, 110]}
    assert tally.files[str(transcript)].offset == size

    # Earlier bytes changed in place (same length, after the first 256 bytes) are not
    # read again: only the bytes added since the last read are.
    text = transcript.read_text()
    start = text.index('"output_tokens":20')
    transcript.write_text(text[:start] + '"output_tokens":90' + text[start + 18:])
    with transcript.open("a") as handle:
        handle.write(line[40:])
    tally = read(transcript, state)
    assert tally.models == {MODEL: [15, 29, 103, 4110]}
    assert tally.context_tokens == 1 + 3 + 4000
    assert tally.context_percent() == 2  # 4004 of a 200k window


def test_truncated_or_replaced_transcript_is_read_again(tmp_path: Path) -> None:
    transcript, state = tmp_path / "s.jsonl", tmp_path / "state"
    transcript.write_text(reply("msg_1", (10, 10, 0, 0)) + reply("msg_2", (20, 20, 0, 0)))
    assert read(transcript, state).models == {MODEL: [30, 30, 0, 0]}

    transcript.write_text(reply("msg_9", (1, 1, 0, 0)))  # truncated and rewritten, shorter
    assert read(transcript, state).models == {MODEL: [1, 1, 0, 0]}

    # Replaced by another file of the same size (a rename over it): a new inode.
    other = tmp_path / "other.jsonl"
    other.write_text(reply("msg_8", (2, 2, 0, 0)))
    os.replace(other, transcript)
    assert read(transcript, state).models == {MODEL: [2, 2, 0, 0]}

    # Rewritten in place, longer, with different first bytes: same inode, read again.
    with transcript.open("r+") as handle:
        handle.write(reply("msg_7", (5, 5, 0, 0), text="other") + reply("msg_6", (6, 6, 0, 0)))
    assert read(transcript, state).models == {MODEL: [11, 11, 0, 0]}


def test_subagents_models_buckets_and_damaged_lines(tmp_path: Path) -> None:
    transcript, state = tmp_path / "abc.jsonl", tmp_path / "state"
    transcript.write_text(
        reply("msg_1", (10, 1, 0, 0), at="2026-12-01T04:01:00Z")
        + "{not json\n"
        + reply("msg_2", (20, 2, 0, 0), model="claude-haiku-4-5", at="2026-12-01T04:07:00Z")
        + reply("msg_s", (0, 0, 0, 0), model="<synthetic>")
    )
    subagents = tmp_path / "abc" / "subagents"
    subagents.mkdir(parents=True)
    (subagents / "agent-1.jsonl").write_text(reply("msg_1", (7, 7, 0, 0), sidechain=True, at="2026-12-01T03:50:00Z"))
    tally = read(transcript, state)
    assert tally.models == {MODEL: [17, 8, 0, 0], "claude-haiku-4-5": [20, 2, 0, 0]}
    assert tally.context_model == "claude-haiku-4-5" and tally.context_tokens == 20
    # Five-minute buckets: 04:01 and 04:07 fall in different ones.
    base = 1796097600  # 2026-12-01T04:00:00Z
    assert tally.since(base + 300) == {"claude-haiku-4-5": [20, 2, 0, 0]}
    assert tally.since(base) == {MODEL: [10, 1, 0, 0], "claude-haiku-4-5": [20, 2, 0, 0]}


def test_what_is_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path, tmp_path / "missing.jsonl", Path("/dev/zero")):
        tally = Tally(str(path))
        assert tally.update() is False and tally.models == {}


def test_old_buckets_become_hourly(tmp_path: Path) -> None:
    transcript, state = tmp_path / "s.jsonl", tmp_path / "state"
    transcript.write_text(reply("msg_1", (1, 0, 0, 0), at="2026-11-01T04:01:00Z") + reply("msg_2", (2, 0, 0, 0), at="2026-11-01T04:17:00Z")
                          + reply("msg_3", (4, 0, 0, 0), at="2026-11-01T05:07:00Z") + "".join(
                              reply(f"msg_{i}", (0, 1, 0, 0), at="2026-11-01T06:00:00Z") for i in range(4, 30)))
    tally = read(transcript, state)
    hour = 1793505600  # 2026-11-01T04:00:00Z
    assert {int(k) - hour: row[MODEL][0] for k, row in tally.buckets.items() if row[MODEL][0]} == {0: 3, 3600: 4}
    assert tally.models == {MODEL: [7, 26, 0, 0]}


def test_state_file_round_trip_and_budget(tmp_path: Path) -> None:
    transcript, state = tmp_path / "s.jsonl", tmp_path / "state"
    transcript.write_text(reply("msg_1", (1000, 500, 0, 0), at="2026-12-01T04:15:05Z"))
    tally = read(transcript, state)
    saved = next(state.glob("*.json"))
    assert json.loads(saved.read_text()) == loads(dumps(tally.as_dict()))
    now = 1796098505 + 60
    settings = {"budget": {"tokens_5h": 1600}, "prices": {}}
    use = budget_use(settings, [tally], now)
    assert [(u[0], round(u[1], 3)) for u in use] == [("5-hour token budget", 0.938)]
    assert budget_level(use, 0.9) == "near"
    assert budget_level(budget_use({"budget": {"tokens_5h": 1500}}, [tally], now), 0.9) == "over"
    assert budget_use(settings, [tally], now + 6 * 3600) == [("5-hour token budget", 0.0, 0.0, 1600.0)]


def test_codex_rollout_and_gemini_chat(tmp_path: Path) -> None:
    """Codex 0.171's rollout and Gemini CLI 0.61's chat, in the shapes those versions write."""
    sessions = tmp_path / "sessions" / "2026" / "12" / "01"
    sessions.mkdir(parents=True)
    rollout = sessions / "rollout-2026-12-01T04-18-17-01a2.jsonl"

    def record(response: str, full_input: int, cached: int, output: int) -> str:
        usage = {"input_tokens": full_input, "cached_input_tokens": cached, "cache_write_input_tokens": 0,
                 "output_tokens": output, "reasoning_output_tokens": 0, "total_tokens": full_input + output}
        return json.dumps({"timestamp": "2026-12-01T04:18:17.484Z", "type": "token_usage_record",
                           "payload": {"response_id": response, "usage": usage, "thread_token_usage": usage}}) + "\n"

    rollout.write_text(
        json.dumps({"timestamp": "2026-12-01T04:18:17.410Z", "type": "turn_context", "payload": {"model": "gpt-5-codex", "cwd": "/w"}}) + "\n"
        + record("resp_1", 13686, 13000, 20)
        + json.dumps({"type": "event_msg", "payload": {"type": "token_count", "info": {"model_context_window": 258400}}}) + "\n"
        + record("resp_2", 13818, 13600, 2)
    )
    tally = read(rollout, tmp_path / "state")
    assert tally.models == {"gpt-5-codex": [686 + 218, 22, 0, 13000 + 13600]}
    assert (tally.context_tokens, tally.window, tally.context_percent()) == (13818, 258400, 5)

    chats = tmp_path / "gemini" / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    chat = chats / "session-2026-12-01T04-20-9933446c.jsonl"
    reply_line = {"id": "6eae", "timestamp": "2026-12-01T04:20:40.009Z", "type": "gemini", "content": "", "thoughts": [],
                  "tokens": {"input": 12691, "output": 20, "cached": 12000, "thoughts": 5, "tool": 0, "total": 12716},
                  "model": "gemini-3.1-pro-preview"}
    chat.write_text(
        json.dumps({"sessionId": "9933", "kind": "main"}) + "\n"
        + json.dumps(reply_line) + "\n"
        + json.dumps({**reply_line, "toolCalls": [{"name": "run_shell_command"}]}) + "\n"  # the same reply again
        + json.dumps({"$set": {"messages": [reply_line]}}) + "\n"  # the list rewritten: not new spending
    )
    tally = read(chat, tmp_path / "state")
    assert tally.models == {"gemini-3.1-pro-preview": [691, 25, 0, 12000]}


def codex_record(response: str, full_input: int, cached: int, output: int) -> str:
    usage = {"input_tokens": full_input, "cached_input_tokens": cached, "cache_write_input_tokens": 0, "output_tokens": output}
    return json.dumps({"timestamp": "2026-12-01T04:18:17.484Z", "type": "token_usage_record",
                       "payload": {"response_id": response, "usage": usage}}) + "\n"


def test_each_transcript_goes_to_its_programs_adapter() -> None:
    from agents_tmux import programs

    def reader(path: str, name: str = "") -> str | None:
        found = programs.usage_reader(path, name)
        return found.name if found is not None else None

    assert reader("/h/.codex/sessions/2026/12/01/rollout-2026-12-01T04-18-17-01a2.jsonl") == "codex"
    assert reader("/h/.gemini/tmp/proj/chats/session-2026-12-01T04-20-9933446c.jsonl") == "gemini"
    # Claude's transcripts are named by their session id only: whatever no adapter claims.
    assert reader("/h/.claude/projects/-w/403be560-9d55-4a51-8a7b-0c9f1e2d3a4b.jsonl") == "claude"
    assert reader("/h/.gemini/tmp/proj/session-x.jsonl") == "claude"  # not in a chats folder
    # Named, the program's adapter wins over the path; a program that reads no usage has none.
    assert reader("/h/rollout-x.jsonl", "gemini") == "gemini"
    assert reader("/h/x.jsonl", "aider") is None and reader("/h/x.jsonl", "no_such_program") is None
    assert [n for n in programs.names() if programs.get(n).reads_usage] == ["claude", "codex", "gemini"]


def test_a_tally_keeps_reading_with_the_program_it_was_read_with(tmp_path: Path) -> None:
    """A rollout not named like one (a copy, a future name) is still read as Codex's once the hook said so."""
    transcript, state = tmp_path / "copied.jsonl", tmp_path / "state"
    turn = json.dumps({"type": "turn_context", "payload": {"model": "gpt-5-codex"}}) + "\n"
    transcript.write_text(turn + codex_record("resp_1", 1000, 600, 10))
    tally = Tally.load(str(transcript), str(state), "codex")
    tally.update()
    tally.save(str(state))
    assert tally.models == {"gpt-5-codex": [400, 10, 0, 600]}

    with transcript.open("a") as handle:
        handle.write(codex_record("resp_2", 2000, 1500, 20))
    again = read(transcript, state)  # as `agents usage` loads it: no program given
    assert again.program == "codex"
    assert again.models == {"gpt-5-codex": [900, 30, 0, 2100]}
    # Path alone, it would have been taken for Claude's and counted nothing.
    fresh = Tally(str(transcript))
    fresh.update()
    assert fresh.reader is not None and fresh.reader.name == "claude" and fresh.models == {}


def test_end_of_turn_reading_imports_only_its_programs_adapter(tmp_path: Path) -> None:
    """The reading after each turn loads the turn's adapter, none of the others, and nothing slow."""
    import subprocess
    import sys

    src = Path(__file__).resolve().parent.parent / "python" / "src"
    claude = tmp_path / "c.jsonl"
    claude.write_text(user("x") + reply("msg_1", (10, 3, 100, 0)))
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    rollout = sessions / "rollout-2026-12-01T04-18-17-01a2.jsonl"
    rollout.write_text(json.dumps({"type": "turn_context", "payload": {"model": "m"}}) + "\n" + codex_record("r", 10, 5, 1))
    chats = tmp_path / "tmp" / "p" / "chats"
    chats.mkdir(parents=True)
    chat = chats / "session-2026-12-01T04-20-9933446c.jsonl"
    chat.write_text(json.dumps({"id": "a", "type": "gemini", "tokens": {"input": 10, "output": 2}, "model": "g"}) + "\n")
    for program, transcript in (("claude", claude), ("codex", rollout), ("gemini", chat)):
        code = (
            f"import sys; sys.path.insert(0, {str(src)!r}); before = set(sys.modules)\n"
            "from agents_tmux import usage\n"
            "seen = []\n"
            f"usage.after_turn({program!r}, lambda argv: seen.append(argv), None, 'tmux', '%0', {str(transcript)!r}, {{}})\n"
            "print(repr(sorted(set(sys.modules) - before)))\n"
            "print(repr([a for a in seen[0] if a.startswith('@agent_tokens')] and seen[0][seen[0].index('@agent_tokens') + 1]))"
        )
        env = {"XDG_STATE_HOME": str(tmp_path / "state"), "PATH": os.environ.get("PATH", "")}
        out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True, env=env).stdout
        modules_line, tokens_line = out.splitlines()
        modules = set(json.loads(modules_line.replace("'", '"')))
        ours = {m for m in modules if m.startswith("agents_tmux")}
        assert ours == {"agents_tmux", "agents_tmux.usage", "agents_tmux.tmuxtext", "agents_tmux.programs",
                        f"agents_tmux.programs.{program}"}, (program, ours)
        assert not modules & {"json", "re", "typing", "subprocess", "pathlib", "dataclasses", "shutil"}, (program, modules)
        assert tokens_line == repr({"claude": "113", "codex": "11", "gemini": "12"}[program]), (program, out)
