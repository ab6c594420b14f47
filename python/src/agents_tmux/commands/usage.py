"""Tokens and estimated cost of every conversation agents.tmux started, removed agents included.

Each conversation's transcript is read incrementally (only what was added
since the last reading; see :mod:`agents_tmux.usage`). Conversations are found
in the tallies the hook keeps and in every repository's registry (the
transcript paths of live and removed agents). Costs come from the config's
``[prices]`` table and are always an estimate.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from agents_tmux.errors import AgentsError

HELP = "tokens and estimated cost of the agents' conversations"
GROUPS = ("agent", "repo", "day", "model")
ESTIMATE_NOTE = "costs are estimates from the [prices] table of the config (US dollars)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="WHEN", help="only replies since WHEN: 30m, 5h, 7d, today or a date YYYY-MM-DD (default: all)")
    parser.add_argument("--by", choices=GROUPS, default="agent", help="one row per agent (default), repo, day or model")
    parser.add_argument("--json", action="store_true", help="print JSON (numbers as numbers) instead of a table")


def parse_since(text: str | None, now: float) -> int | None:
    """The epoch second ``--since`` means, or a clear error.

    >>> parse_since("5h", 100_000), parse_since("30m", 100_000), parse_since(None, 0)
    (82000, 98200, None)
    """
    if text is None:
        return None
    value = text.strip().lower()
    match = re.fullmatch(r"(\d{1,6})\s*([mhd])", value)
    if match:
        return int(now) - int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if value == "today":
        from agents_tmux.usage import day_start

        return day_start(now)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return int(time.mktime(time.strptime(value, "%Y-%m-%d")))
        except (ValueError, OverflowError):
            pass
    raise AgentsError(f"--since {text!r}: expected 30m, 5h, 7d, today or a date such as 2026-12-01")


def program_of(repo: Path, kind: str) -> Any:
    """The adapter of the agent kind ``kind`` in ``repo``'s config; None when neither it nor the name tells.

    A config that no longer loads or knows the kind: a built-in kind's name is
    its program's.
    """
    from agents_tmux import config, programs

    try:
        name = config.load(repo).agent_kind(kind or None).program
    except AgentsError:
        name = kind or "claude"
    try:
        return programs.get(name)
    except KeyError:
        return None


def conversations() -> list[Any]:
    """Every conversation on record, each tally brought up to date with its transcript."""
    from agents_tmux import registry, usage

    tallies = {tally.transcript: tally for tally in usage.load_tallies()}
    for repo in registry.known_repos():
        try:
            entries = registry.load(repo)
        except AgentsError:
            continue  # a damaged registry says so itself in every other command
        for name, entry in entries.items():
            paths = [entry.get("transcript"), *(entry.get("transcripts") or [])]
            if not entry.get("transcript") and entry.get("session_id") and entry.get("worktree"):
                # Claude started before the entry existed and nothing recorded the path since.
                program = program_of(repo, str(entry.get("kind") or ""))
                found = program.transcript(Path(entry["worktree"]), str(entry["session_id"])) if program else None
                paths.append(str(found) if found else None)
            for path in paths:
                if not isinstance(path, str) or not path.startswith("/"):
                    continue
                tally = tallies.get(path) or usage.Tally(path)
                tally.agent, tally.repo = tally.agent or name, tally.repo or str(repo)
                tally.kind = tally.kind or str(entry.get("kind") or "")
                tallies[path] = tally
    for tally in tallies.values():
        if tally.update() or not Path(usage.tally_file(tally.transcript, usage.usage_dir())).exists():
            tally.save()
    return sorted(tallies.values(), key=lambda t: (t.repo, t.agent, t.transcript))


def group_key(by: str, tally: Any, bucket: int, model: str) -> tuple[str, ...]:
    if by == "agent":
        return (tally.agent or "?", Path(tally.repo).name if tally.repo else "?")
    if by == "repo":
        return (tally.repo or "?",)
    if by == "day":
        return (time.strftime("%Y-%m-%d", time.localtime(bucket)),)
    return (model,)


def summarise(tallies: list[Any], by: str, since: int | None, prices: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (one per group, in a stable order) and the total, each with the four counts and the cost."""
    from agents_tmux import usage

    tables: dict[tuple[str, ...], dict[str, list[int]]] = {}
    first = None if since is None else since - since % usage.BUCKET
    for tally in tallies:
        for bucket_text, row in tally.buckets.items():
            bucket = int(bucket_text)
            if first is not None and bucket < first:
                continue
            for model, counts in row.items():
                if not any(counts):
                    continue
                table = tables.setdefault(group_key(by, tally, bucket, model), {})
                usage.add_counts(table, model, counts)

    def figures(table: dict[str, list[int]]) -> dict[str, Any]:
        total = [sum(c[i] for c in table.values()) for i in range(4)]
        cost, complete = usage.cost_of(table, prices)
        return {**dict(zip(usage.KINDS, total)), "total": sum(total), "cost": round(cost, 4) if complete else None}

    rows = []
    for key in sorted(tables):
        row: dict[str, Any] = {"agent": key[0], "repo": key[1]} if by == "agent" else {by: key[0]}
        rows.append({**row, **figures(tables[key])})
    everything: dict[str, list[int]] = {}
    for table in tables.values():
        for model, counts in table.items():
            usage.add_counts(everything, model, counts)
    return rows, figures(everything)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import config as config_mod
    from agents_tmux import gitops, usage

    now = time.time()
    since = parse_since(args.since, now)
    try:
        repo: Path | None = gitops.find_repo(Path.cwd()).root
    except AgentsError:
        repo = None  # outside a repository: the user's config alone
    cfg = config_mod.load(repo)
    usage.write_settings(dict(cfg.prices), dict(cfg.budget))
    rows, total = summarise(conversations(), args.by, since, cfg.prices)
    settings = usage.read_settings()
    budgets = usage.budget_use(settings, usage.load_tallies(newer_than=now - 86400), now)
    if args.json:
        print(json.dumps({
            "by": args.by,
            "since": since,
            "rows": rows,
            "total": total,
            "budgets": [{"budget": label, "share": round(share, 4), "spent": spent, "limit": limit} for label, share, spent, limit in budgets],
            "currency": "USD",
            "cost_is_estimate": True,
        }, indent=2))
        return 0
    if not rows:
        when = f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(since))}" if since is not None else ""
        print(f"no usage recorded{when} (figures come from the agents' transcripts at the end of each turn)")
        return 0
    keys = ["agent", "repo"] if args.by == "agent" else [args.by]
    header = [k.upper() for k in keys] + ["INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "TOTAL", "COST (EST.)"]
    lines = [header]
    for row in [*rows, {**{k: "" for k in keys}, keys[0]: "total", **total}]:
        cost = "?" if row["cost"] is None else usage.human_cost(row["cost"])
        lines.append([str(row[k]) for k in keys] + [f"{row[k]:,}" for k in (*usage.KINDS, "total")] + [cost])
    from agents_tmux.columns import display_width, pad, pad_left

    # By terminal columns: an agent or repository name may be CJK or hold emoji.
    widths = [max(display_width(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        cells = [pad(cell, widths[i]) if i < len(keys) else pad_left(cell, widths[i]) for i, cell in enumerate(line)]
        if number == len(lines) - 1:
            print("  ".join("-" * w for w in widths))
        print("  ".join(cells).rstrip())
    print(ESTIMATE_NOTE + ("; ? = a model with no price" if any(r["cost"] is None for r in rows) else ""))
    for use in budgets:
        print(f"budget: {usage.describe_budget(use)}")
    return 0
