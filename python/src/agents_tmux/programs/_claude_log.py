"""Claude Code's transcript as a conversation, for ``agents log`` (not a program: its name starts with ``_``).

Apart from :mod:`agents_tmux.programs.claude`, which the hook handler
imports on every event: only ``agents log`` needs this.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# The transcript as a conversation (agents log): one block per turn, ``user:``
# what was asked, ``assistant:`` what it said, ``tool NAME:`` a call with its
# main argument, ``result:`` the first lines of what came back. Bookkeeping
# lines (snapshots, summaries, meta messages) are left out; unreadable lines
# are skipped, never fatal.

#: How many lines of a tool's result ``agents log`` shows.
RESULT_LINES = 3
#: The longest one-line rendering of a tool call's input.
INPUT_CHARS = 200

#: The input field that says most about a call, per common tool.
_MAIN_INPUT = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")


def conversation(lines: Iterable[str]) -> str:
    """The conversation in ``lines`` (a transcript's lines) as text.

    >>> print(conversation(['{"type":"user","message":{"role":"user","content":"Fix it"}}',
    ...   '{"type":"assistant","message":{"content":[{"type":"text","text":"On it."},'
    ...   '{"type":"tool_use","name":"Bash","input":{"command":"make test"}}]}}',
    ...   '{"type":"user","message":{"content":[{"type":"tool_result","content":"ok\\\\n2 passed"}]}}',
    ...   'not json']), end="")
    user: Fix it
    assistant: On it.
    tool Bash: make test
    result: ok
            2 passed
    """
    import json

    out: list[str] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("isMeta"):
            continue
        kind = entry.get("type")
        message = entry.get("message")
        if kind not in ("user", "assistant") or not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            _add(out, kind, content)
            continue
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict):
                _block(out, kind, block)
    return "".join(f"{line}\n" for line in out)


def _block(out: list[str], speaker: str, block: dict[str, object]) -> None:
    kind = block.get("type")
    if kind == "text":
        _add(out, speaker, str(block.get("text", "")))
    elif kind == "tool_use":
        _add(out, f"tool {block.get('name', '?')}", _tool_input(block.get("input")))
    elif kind == "tool_result":
        text = _result_text(block.get("content"))
        lines = text.strip().splitlines()
        shown = lines[:RESULT_LINES] + ([f"... ({len(lines) - RESULT_LINES} more lines)"] if len(lines) > RESULT_LINES else [])
        _add(out, "error" if block.get("is_error") else "result", "\n".join(shown) or "(empty)")


def _tool_input(value: object) -> str:
    """A tool call's input on one line: its main field, else the whole input as JSON."""
    import json

    if isinstance(value, dict):
        for key in _MAIN_INPUT:
            if isinstance(value.get(key), str) and value[key].strip():
                text = value[key]
                break
        else:
            text = json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= INPUT_CHARS else text[: INPUT_CHARS - 1] + "…"


def _result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _add(out: list[str], label: str, text: str) -> None:
    """``label: text``, later lines of ``text`` indented under the first."""
    text = text.strip()
    if not text:
        return
    first, *rest = text.splitlines()
    out.append(f"{label}: {first}")
    indent = " " * (len(label) + 2)
    out.extend(indent + line for line in rest)
