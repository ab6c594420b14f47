"""A tiny MCP server (stdio) whose one tool asks the user a question through MCP elicitation.

Claude Code runs it as a stdio MCP server (``mcpServers`` in ``~/.claude.json``);
the fake model calls its tool ``mcp__asker__pick_colour``; the server then sends
Claude an ``elicitation/create`` request, which Claude shows as a dialog for the
user (and reports with the ``Elicitation`` hook), and answers the tool call with
what the user chose. Standard library only; one JSON-RPC message per line.

    python fake_mcp.py LOG      # LOG: every message in and out, one JSON per line
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: The tool the fake model calls (Claude names it mcp__<server>__<tool>).
TOOL = "pick_colour"


def send(message: dict[str, Any], log: Any) -> None:
    line = json.dumps(message)
    log.write(json.dumps({"out": message}) + "\n")
    log.flush()
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    log = open(argv[1] if len(argv) > 1 else "/dev/null", "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the server
    pending_call: Any = None
    for raw in sys.stdin:
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        log.write(json.dumps({"in": message}) + "\n")
        log.flush()
        method, ident = message.get("method"), message.get("id")
        if method == "initialize":
            version = message.get("params", {}).get("protocolVersion", "2025-06-18")
            send({"jsonrpc": "2.0", "id": ident, "result": {
                "protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "asker", "version": "1.0"}}}, log)
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [{
                "name": TOOL, "description": "Ask the user to pick a colour.",
                "inputSchema": {"type": "object", "properties": {}}}]}}, log)
        elif method == "tools/call":
            pending_call = ident
            send({"jsonrpc": "2.0", "id": "ask-1", "method": "elicitation/create", "params": {
                "message": "Which colour do you pick?",
                "requestedSchema": {"type": "object", "properties": {"colour": {"type": "string", "title": "Colour"}},
                                    "required": ["colour"]}}}, log)
        elif ident == "ask-1" and pending_call is not None:
            result = message.get("result", {})
            text = f"The user chose: {json.dumps(result)}"
            send({"jsonrpc": "2.0", "id": pending_call, "result": {"content": [{"type": "text", "text": text}]}}, log)
            pending_call = None
        elif ident is not None and method is not None:
            send({"jsonrpc": "2.0", "id": ident, "result": {}}, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
