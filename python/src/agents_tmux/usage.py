"""Token usage of agents' conversations, read incrementally from their transcripts.

What is common to every program is here; what differs (which lines of a
transcript report tokens, how to count them, which files belong to one
conversation) is the program's adapter's (:mod:`agents_tmux.programs`:
``usage_markers``, ``read_usage``, ``usage_files``...). Claude Code, Codex
and Gemini CLI have one that reads usage; Aider's does not.

A :class:`Tally` is what has been read of one transcript so far: the byte
offset reached, the sums per model, the same sums in five-minute buckets
(for ``agents usage --since`` and the budgets) and the context the last reply
used. It lives in a small JSON file per transcript under
``$XDG_STATE_HOME/agents-tmux/usage/``, so each reading only reads the bytes
added since the last one: a partial last line is left for next time, and a
transcript that shrank or was replaced is read again from the start. A reply
a program writes several times (one line per content block, say) keeps its
id, and the id counts once: its latest line wins.

At the end of each turn (the adapter's ``usage_events``) the hook handler
starts :func:`main` detached, which waits for the transcript to settle and
calls :func:`after_turn`. It runs once per turn, so it stays light: standard
library only, nothing slow imported (no ``json``, ``re`` or ``datetime``:
JSON is read with the C scanner and written by :func:`dumps`), only the
turn's program's adapter, and two tmux calls.
Prices and budgets come from the TOML config, which the command line (spawn,
``agents usage``) copies into ``settings.json`` beside the tallies.
"""

from __future__ import annotations

import os
import time

from agents_tmux.tmuxtext import no_formats

# typing imports re, which costs more than a turn's reading; mypy reads this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

    from agents_tmux.programs import Program

#: The four token counts kept everywhere, in this order.
KINDS = ("input", "output", "cache_write", "cache_read")
#: The price table's keys for :data:`KINDS` (US dollars per million tokens).
PRICE_KEYS = ("input", "output", "cache_write", "cache_read")
#: Width of a time bucket, in seconds: the resolution of ``--since`` and of the budgets.
BUCKET = 300
#: Seconds the transcript is watched after a turn's reading, for a reply written late.
LATE_WRITES = 3.0
#: Age after which five-minute buckets are merged into hourly ones (seconds).
OLD_BUCKETS = 2 * 86400
#: Context window of a model [prices] says nothing of, and of the long-context
#: variants (used when a reply's context exceeds the first).
WINDOW = 200_000
LARGE_WINDOW = 1_000_000
#: Replies whose id is remembered to count a reply written over several lines once.
RECENT_IDS = 16
#: The first bytes of a transcript, remembered to notice it was replaced by another file.
HEAD_BYTES = 256
#: Bytes read from a transcript at a time (bounds memory on a 50 MB first read).
CHUNK = 8 << 20
STATE_VERSION = 1
#: Budget names: (settings key, window label, what it counts).
BUDGETS = (
    ("tokens_5h", "5-hour token budget", "tokens"),
    ("cost_5h", "5-hour cost budget", "cost"),
    ("tokens_day", "daily token budget", "tokens"),
    ("cost_day", "daily cost budget", "cost"),
)
#: Default share of a budget at which spawning asks first and the status line warns.
WARN_PERCENT = 90

Counts = list[int]


# --------------------------------------------------------------------------- #
# JSON without the json module (it imports re, which costs more than a whole turn's reading)


class _DecodeContext:
    """What the C JSON scanner reads from its context: json.loads's defaults."""

    strict = False
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


_scanner = None


def json_objects(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects among ``lines`` (a transcript's, as bytes); damaged lines and other values are skipped."""
    for line in lines:
        try:
            entry = loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry


def loads(text: str) -> object:
    """Parse one JSON value with the C scanner behind ``json``.

    >>> loads('{"a": [1, 2.5, "x"], "b": null}')
    {'a': [1, 2.5, 'x'], 'b': None}
    >>> loads('{"a": ')
    Traceback (most recent call last):
    ValueError: no JSON value at character 6
    """
    global _scanner
    if _scanner is None:
        from _json import make_scanner

        _scanner = make_scanner(_DecodeContext())
    start = len(text) - len(text.lstrip())
    try:
        value, end = _scanner(text, start)
    except StopIteration as exc:  # the scanner's way of saying "no value here" (cut short, empty)
        raise ValueError(f"no JSON value at character {exc.value}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


def dumps(value: object) -> str:
    """Compact JSON for dicts with text keys, lists, text, numbers, booleans and None.

    >>> dumps({"a": [1, 2.5, "é\\"x"], "b": None, "c": True})
    '{"a":[1,2.5,"\\\\u00e9\\\\"x"],"b":null,"c":true}'
    """
    from _json import encode_basestring_ascii as quote

    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(quote(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def epoch_of(stamp: object) -> int | None:
    """Seconds since 1970 of an ISO timestamp in UTC such as ``2026-12-01T04:15:05.023Z``.

    >>> epoch_of("1970-01-02T00:00:01.5Z"), epoch_of("2026-12-01T04:15:05Z"), epoch_of("x")
    (86401, 1796098505, None)
    """
    if not isinstance(stamp, str) or len(stamp) < 19:
        return None
    try:
        year, month, day = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
        hour, minute, second = int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
    except ValueError:
        return None
    # Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second


# --------------------------------------------------------------------------- #
# Where things live


def usage_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """``$XDG_STATE_HOME/agents-tmux/usage`` (the tallies and ``settings.json``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "agents-tmux", "usage")


def tally_file(transcript: str, folder: str) -> str:
    """The tally file of ``transcript``: its name made safe, plus a hash of its whole path.

    >>> tally_file("/h/.claude/projects/-w/0b1c.jsonl", "/s")
    '/s/0b1c-bf8698e0.json'
    """
    digest = 0x811C9DC5  # FNV-1a: a stable name without importing hashlib
    for byte in transcript.encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    stem = os.path.basename(transcript)
    if stem.endswith(".jsonl"):
        stem = stem[:-6]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80].lstrip(".") or "transcript"
    return os.path.join(folder, f"{stem}-{digest:08x}.json")


def _write(path: str, text: str) -> None:
    """Replace ``path`` atomically (a cache: a crash loses at most a re-read, so no fsync)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _read_json(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- #
# Reading one transcript


def add_counts(table: dict[str, Counts], model: str, counts: Counts, sign: int = 1) -> None:
    """Add ``counts`` (times ``sign``) to ``table[model]``, creating the row when missing."""
    row = table.get(model)
    if row is None:
        row = table[model] = [0, 0, 0, 0]
    for i in range(4):
        row[i] += sign * counts[i]


def lines_holding(data: bytes, end: int, markers: tuple[bytes, ...]) -> Iterator[bytes]:
    """Each whole line of ``data[:end]`` holding one of ``markers``, in order, without its newline.

    The other lines are never decoded (in a transcript they make most of the
    bytes). ``data[:end]`` must end with a newline.

    >>> data = b'a\\n{"usage": 1}\\nb\\n{"tokens": 2}\\n'
    >>> list(lines_holding(data, len(data), (b'"usage":', b'"tokens":')))
    [b'{"usage": 1}', b'{"tokens": 2}']
    """
    pos = 0
    while True:
        hits = [hit for hit in (data.find(marker, pos, end) for marker in markers) if hit >= 0]
        if not hits:
            return
        hit = min(hits)
        start = data.rfind(b"\n", 0, hit) + 1
        stop = data.find(b"\n", hit, end)
        pos = stop + 1
        yield data[start:stop]


class FileState:
    """How far one file has been read: offset, identity and its first bytes."""

    __slots__ = ("dev", "head", "ino", "offset")

    def __init__(self, data: object = None) -> None:
        data = data if isinstance(data, dict) else {}
        self.offset = int(data.get("offset", 0) or 0)
        self.dev = int(data.get("dev", 0) or 0)
        self.ino = int(data.get("ino", 0) or 0)
        self.head = str(data.get("head", ""))

    def as_dict(self) -> dict[str, object]:
        return {"offset": self.offset, "dev": self.dev, "ino": self.ino, "head": self.head}


class Tally:
    """What has been read of one conversation's transcript(s) so far."""

    def __init__(self, transcript: str, program: str = "") -> None:
        self.transcript = transcript
        #: The program whose transcript it is ("": found from the path when needed).
        self.program = program
        self._reader: Program | None = None
        self._reader_known = False
        self.reset()
        #: Who spent it (filled in from the pane or the registry).
        self.agent = ""
        self.repo = ""
        self.kind = ""

    def reset(self) -> None:
        """Forget everything read: the next :meth:`update` reads from the start."""
        self.files: dict[str, FileState] = {}
        self.models: dict[str, Counts] = {}
        #: Five-minute bucket start (as text, for JSON) -> model -> counts.
        self.buckets: dict[str, dict[str, Counts]] = {}
        #: Recently seen reply ids: [id, file, model, bucket, counts], newest last.
        self.recent: list[list[object]] = []
        self.context_model = ""
        self.context_tokens = 0
        self.replies = 0
        self.last_at = 0
        #: What a program writes once for several replies (see ``Program.read_usage``): the model of
        #: the current turn, when its usage lines do not name it (Codex), and the context window it reports.
        self.turn_model = ""
        self.window = 0

    # -- persistence -----------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, transcript: str, program: str = "") -> Tally:
        """A tally saved by :meth:`as_dict`; an empty one when it is not for ``transcript``.

        ``program``: whose transcript it is, when the caller knows (else the saved tally may say).
        """
        tally = cls(transcript, program)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION or data.get("transcript") != transcript:
            return tally
        saved_program = data.get("program")
        if not program and isinstance(saved_program, str):
            tally.program = saved_program
        try:
            tally.files = {str(k): FileState(v) for k, v in dict(data.get("files") or {}).items()}
            tally.models = {str(k): [int(x) for x in v][:4] for k, v in dict(data.get("models") or {}).items()}
            tally.buckets = {
                str(b): {str(m): [int(x) for x in c][:4] for m, c in dict(row).items()}
                for b, row in dict(data.get("buckets") or {}).items()
            }
            tally.recent = [list(r) for r in data.get("recent") or [] if isinstance(r, list) and len(r) == 5]
            tally.context_model = str(data.get("context_model", ""))
            tally.context_tokens = int(data.get("context_tokens", 0) or 0)
            tally.replies = int(data.get("replies", 0) or 0)
            tally.last_at = int(data.get("last_at", 0) or 0)
            tally.turn_model = str(data.get("turn_model", ""))
            tally.window = int(data.get("window", 0) or 0)
            tally.agent = str(data.get("agent", ""))
            tally.repo = str(data.get("repo", ""))
            tally.kind = str(data.get("kind", ""))
        except (TypeError, ValueError):
            return cls(transcript, program)  # damaged: read the transcript again
        return tally

    def as_dict(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "transcript": self.transcript,
            "program": self.reader.name if self.reader is not None else self.program,
            "agent": self.agent,
            "repo": self.repo,
            "kind": self.kind,
            "files": {k: v.as_dict() for k, v in self.files.items()},
            "models": self.models,
            "buckets": self.buckets,
            "recent": self.recent,
            "context_model": self.context_model,
            "context_tokens": self.context_tokens,
            "replies": self.replies,
            "last_at": self.last_at,
            "turn_model": self.turn_model,
            "window": self.window,
        }

    @classmethod
    def load(cls, transcript: str, folder: str | None = None, program: str = "") -> Tally:
        """The saved tally of ``transcript`` (empty when there is none yet)."""
        path = tally_file(transcript, folder or usage_dir())
        return cls.from_dict(_read_json(path), transcript, program)

    def compact(self, now: float) -> None:
        """Merge five-minute buckets older than two days into hourly ones, so a tally stays small."""
        cutoff = now - OLD_BUCKETS
        pinned = {str(seen[3]) for seen in self.recent}  # a reply written again subtracts from its own bucket
        for key in [k for k in self.buckets if int(k) < cutoff and int(k) % 3600 and k not in pinned]:
            hour = self.buckets.setdefault(str(int(key) - int(key) % 3600), {})
            for model, counts in self.buckets.pop(key).items():
                add_counts(hour, model, counts)

    def save(self, folder: str | None = None) -> str:
        self.compact(time.time())
        path = tally_file(self.transcript, folder or usage_dir())
        _write(path, dumps(self.as_dict()))
        return path

    # -- reading ---------------------------------------------------------

    @property
    def reader(self) -> Program | None:
        """The adapter that reads this transcript's usage (see :func:`agents_tmux.programs.usage_reader`)."""
        if not self._reader_known:
            from agents_tmux import programs

            # A program named but unknown here (a tally from another version): found from the path.
            self._reader = programs.usage_reader(self.transcript, self.program) if self.program else None
            if self._reader is None:
                self._reader = programs.usage_reader(self.transcript)
            self._reader_known = True
        return self._reader

    def sources(self) -> list[str]:
        """The files of the conversation: the transcript and what its adapter adds (subagents' transcripts)."""
        reader = self.reader
        return reader.usage_files(self.transcript) if reader is not None else [self.transcript]

    def update(self) -> bool:
        """Read what was added to the transcript(s) since the last call; True if anything was."""
        if self.reader is None:
            return False
        changed = False
        for path in self.sources():
            changed = self._update_file(path) or changed
        return changed

    def _update_file(self, path: str) -> bool:
        try:
            # Non-blocking: a FIFO named as a transcript must not hang the reading.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            info = os.fstat(fd)
            if info.st_mode & 0o170000 != 0o100000:
                return False  # only regular files are transcripts (not a device, FIFO or folder)
            state = self.files.get(path)
            if state is not None and not self._same_file(fd, info, state):
                # Truncated, rotated or replaced: everything read from it is void.
                # Counts from several files are mixed in the sums, so start over.
                self.reset()
                self._update_all_but(path)
                state = None
            if state is None:
                state = self.files[path] = FileState()
                state.dev, state.ino = info.st_dev, info.st_ino
            if info.st_size <= state.offset:
                return False
            os.lseek(fd, state.offset, os.SEEK_SET)
            pending = b""
            read_any = False
            while True:
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                if not state.head:
                    state.head = chunk[:HEAD_BYTES].hex()
                data = pending + chunk if pending else chunk
                end = data.rfind(b"\n") + 1
                if end:
                    self._scan(data, end, path)
                    state.offset += end
                    read_any = True
                pending = data[end:]
            return read_any
        finally:
            os.close(fd)

    def _update_all_but(self, skip: str) -> None:
        for other in self.sources():
            if other != skip:
                self._update_file(other)

    @staticmethod
    def _same_file(fd: int, info: os.stat_result, state: FileState) -> bool:
        """Still the file read before, grown or not: same inode, not shorter, same first bytes."""
        if (info.st_dev, info.st_ino) != (state.dev, state.ino) or info.st_size < state.offset:
            return False
        if state.head:
            want = bytes.fromhex(state.head)
            if os.pread(fd, len(want), 0) != want:
                return False
        return True

    def _scan(self, data: bytes, end: int, path: str) -> None:
        """Count the replies in ``data[:end]`` (whole lines only), through the adapter."""
        reader = self.reader
        if reader is not None:
            reader.read_usage(self, lines_holding(data, end, reader.usage_markers), path)

    def count(self, counts: Counts, model: object, stamp: object, reply_id: object, path: str, main: bool) -> None:
        """Add one reply's counts (:data:`KINDS`); a reply id seen lately in ``path`` replaces its earlier counts.

        ``model``, ``stamp`` and ``reply_id`` as the transcript gives them:
        the model "unknown" when it names none, the time now when it has none
        (``stamp`` is ISO), no id when it has none. ``main``: a reply of the
        conversation itself (not of a subagent), whose context is the one shown.
        """
        model = model if isinstance(model, str) and model else "unknown"
        reply_id = reply_id if isinstance(reply_id, str) else ""
        at = epoch_of(stamp) or int(time.time())
        bucket = str(at - at % BUCKET)
        if reply_id:
            for i, seen in enumerate(self.recent):
                if seen[0] == reply_id and seen[1] == path:
                    # The same reply, written again for its next content block: replace its counts.
                    _, _, old_model, old_bucket, old_counts = seen
                    add_counts(self.models, str(old_model), old_counts, -1)  # type: ignore[arg-type]
                    add_counts(self.buckets.setdefault(str(old_bucket), {}), str(old_model), old_counts, -1)  # type: ignore[arg-type]
                    del self.recent[i]
                    self.replies -= 1
                    break
            self.recent.append([reply_id, path, model, bucket, counts])
            del self.recent[:-RECENT_IDS]
        add_counts(self.models, model, counts)
        add_counts(self.buckets.setdefault(bucket, {}), model, counts)
        self.replies += 1
        self.last_at = max(self.last_at, at)
        if main:
            self.context_model = model
            self.context_tokens = counts[0] + counts[2] + counts[3]

    # -- figures ---------------------------------------------------------

    def totals(self) -> Counts:
        """Input, output, cache-write and cache-read tokens over every model."""
        total = [0, 0, 0, 0]
        for counts in self.models.values():
            for i in range(4):
                total[i] += counts[i]
        return total

    def context_percent(self, prices: dict[str, object] | None = None) -> int:
        """How full the context window was at the last reply, in percent (0 when unknown).

        The window is the one the program reported, else the ``context_window``
        of the model's [prices] row (default 200k); at least what the model's
        name says (its adapter's ``context_window``), and 1M when the context is
        already bigger than that.
        """
        if not self.context_tokens:
            return 0
        window = self.window or context_window(self.context_model, prices or {})
        reader = self.reader
        named = reader.context_window(self.context_model) if reader is not None else 0
        window = max(window, named)
        if self.context_tokens > window:
            window = max(window, LARGE_WINDOW)
        return min(100, round(self.context_tokens * 100 / window))

    def since(self, start: int) -> dict[str, Counts]:
        """Counts per model of the replies at or after ``start`` (to :data:`BUCKET` seconds)."""
        table: dict[str, Counts] = {}
        first = start - start % BUCKET
        for bucket, row in self.buckets.items():
            if int(bucket) >= first:
                for model, counts in row.items():
                    add_counts(table, model, counts)
        return table


# --------------------------------------------------------------------------- #
# Prices


def price_for(model: str, prices: dict[str, object]) -> list[float] | None:
    """The price row of ``model``: the exact name, else the longest ``prefix*`` that matches.

    >>> price_for("claude-opus-4-8", {"claude-opus-4*": {"input": 5, "output": 25}, "claude-*": {"input": 1}})
    [5.0, 25.0, 0.0, 0.0]
    >>> price_for("gpt-x", {"claude-*": {"input": 1}}) is None
    True
    """
    best: object = prices.get(model)
    if best is None:
        length = -1
        for pattern, row in prices.items():
            if pattern.endswith("*") and model.startswith(pattern[:-1]) and len(pattern) > length:
                best, length = row, len(pattern)
    if not isinstance(best, dict):
        return None
    return [float(best.get(key, 0) or 0) for key in PRICE_KEYS]


def context_window(model: str, prices: dict[str, object]) -> int:
    """The ``context_window`` of the longest [prices] key matching ``model`` that sets one.

    >>> context_window("claude-opus-4-8", {"claude-opus-4*": {"input": 5}, "claude-opus-4-8*": {"context_window": 1e6}})
    1000000
    >>> context_window("x", {})
    200000
    """
    best, length = WINDOW, -1
    for pattern, row in prices.items():
        matches = pattern == model or (pattern.endswith("*") and model.startswith(pattern[:-1]))
        window = row.get("context_window") if isinstance(row, dict) else None
        if matches and isinstance(window, (int, float)) and window > 0 and len(pattern) > length:
            best, length = int(window), len(pattern)
    return best


def cost_of(table: dict[str, Counts], prices: dict[str, object]) -> tuple[float, bool]:
    """Estimated US dollars of per-model counts, and whether every model had a price."""
    cost, complete = 0.0, True
    for model, counts in table.items():
        row = price_for(model, prices)
        if row is None:
            complete = complete and not any(counts)
            continue
        cost += sum(counts[i] * row[i] for i in range(4)) / 1_000_000
    return cost, complete


def human_tokens(count: int) -> str:
    """``950``, ``12.3k``, ``4.5M``: a token count at a glance.

    >>> human_tokens(950), human_tokens(12345), human_tokens(4_500_000)
    ('950', '12.3k', '4.5M')
    """
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)


def human_cost(cost: float) -> str:
    """``$0.42``, ``$12``: an estimated cost at a glance."""
    return f"${cost:.2f}" if cost < 100 else f"${cost:.0f}"


# --------------------------------------------------------------------------- #
# Settings (prices, budgets) and budgets


def read_settings(folder: str | None = None) -> dict[str, object]:
    """``settings.json``: the ``prices`` and ``budget`` tables the command line copied from the config."""
    data = _read_json(os.path.join(folder or usage_dir(), "settings.json"))
    return data if isinstance(data, dict) else {}


def write_settings(prices: dict[str, object], budget: dict[str, object], folder: str | None = None) -> None:
    """Save the config's prices and budgets for the hook handler (only when they changed)."""
    path = os.path.join(folder or usage_dir(), "settings.json")
    text = dumps({"prices": prices, "budget": budget})
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    except OSError:
        pass
    _write(path, text)


def load_tallies(folder: str | None = None, newer_than: float = 0.0) -> list[Tally]:
    """Every saved tally (those whose file changed after ``newer_than`` only)."""
    where = folder or usage_dir()
    tallies: list[Tally] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return tallies
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name == "settings.json":
            continue
        try:
            if newer_than and entry.stat().st_mtime < newer_than:
                continue
        except OSError:
            continue
        data = _read_json(entry.path)
        if isinstance(data, dict) and isinstance(data.get("transcript"), str):
            tallies.append(Tally.from_dict(data, data["transcript"]))
    return tallies


def day_start(now: float) -> int:
    """Local midnight of the day ``now`` falls in."""
    local = time.localtime(now)
    return int(now) - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec)


def budget_use(settings: dict[str, object], tallies: list[Tally], now: float) -> list[tuple[str, float, float, float]]:
    """For each budget set: (label, share spent 0..1+, spent, limit); most spent first."""
    budget = settings.get("budget")
    prices = settings.get("prices")
    prices = prices if isinstance(prices, dict) else {}
    if not isinstance(budget, dict) or not budget:
        return []
    windows = {"5h": int(now) - 5 * 3600, "day": day_start(now)}
    spent: dict[str, tuple[int, float]] = {}
    for label, start in windows.items():
        table: dict[str, Counts] = {}
        for tally in tallies:
            for model, counts in tally.since(start).items():
                add_counts(table, model, counts)
        tokens = sum(sum(c) for c in table.values())
        spent[label] = (tokens, cost_of(table, prices)[0])
    use = []
    for key, label, what in BUDGETS:
        limit = budget.get(key)
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0:
            continue
        tokens, cost = spent[key.rsplit("_", 1)[1]]
        value = float(tokens) if what == "tokens" else cost
        use.append((label, value / limit, value, float(limit)))
    use.sort(key=lambda u: -u[1])
    return use


def warn_share(settings: dict[str, object]) -> float:
    """The share of a budget at which it is "near" (``warn_percent``, default 90)."""
    budget = settings.get("budget")
    percent = budget.get("warn_percent", WARN_PERCENT) if isinstance(budget, dict) else WARN_PERCENT
    if not isinstance(percent, (int, float)) or isinstance(percent, bool) or not 0 < percent <= 100:
        percent = WARN_PERCENT
    return float(percent) / 100


def budget_level(use: list[tuple[str, float, float, float]], near: float) -> str:
    """``over`` (a budget is spent), ``near`` (one is at ``near`` or more) or ``""``."""
    if not use:
        return ""
    share = use[0][1]
    return "over" if share >= 1 else "near" if share >= near else ""


def describe_budget(use: tuple[str, float, float, float]) -> str:
    """``92% of the 5-hour cost budget ($9.20 of $10.00, estimate)``."""
    label, share, spent, limit = use
    if "cost" in label:
        amounts = f"{human_cost(spent)} of {human_cost(limit)}, estimate"
    else:
        amounts = f"{human_tokens(int(spent))} of {human_tokens(int(limit))} tokens"
    return f"{share * 100:.0f}% of the {label} ({amounts})"


# --------------------------------------------------------------------------- #
# The hook's part: at the end of each turn


#: Pane options the hook sets, and what each holds.
PANE_OPTIONS = (
    "@agent_tokens_in",  # input tokens not read from the cache
    "@agent_tokens_out",
    "@agent_tokens_cache_write",
    "@agent_tokens_cache_read",
    "@agent_tokens",  # all four together
    "@agent_cost",  # estimated US dollars, e.g. 0.42 (empty when a model has no price)
    "@agent_context_pct",  # context window used by the last reply, in percent
    "@agent_context_tokens",
    "@agent_model",
)


def pane_figures(tally: Tally, prices: dict[str, object]) -> dict[str, str]:
    """The pane options of :data:`PANE_OPTIONS` for ``tally``."""
    total = tally.totals()
    cost, complete = cost_of(tally.models, prices)
    return {
        "@agent_tokens_in": str(total[0]),
        "@agent_tokens_out": str(total[1]),
        "@agent_tokens_cache_write": str(total[2]),
        "@agent_tokens_cache_read": str(total[3]),
        "@agent_tokens": str(sum(total)),
        "@agent_cost": f"{cost:.4f}" if complete else "",
        "@agent_context_pct": str(tally.context_percent(prices)),
        "@agent_context_tokens": str(tally.context_tokens),
        "@agent_model": tally.context_model,
    }


def live_summary(rows: list[list[str]]) -> str:
    """The ``#{agents_usage}`` text from each agent pane's ``@agent_tokens`` and ``@agent_cost``.

    >>> live_summary([["12000", "0.5"], ["3000", "0.25"], ["", ""]])
    '15.0k ~$0.75'
    """
    tokens, cost, priced = 0, 0.0, True
    for token_text, cost_text in rows:
        if token_text.isdigit():
            tokens += int(token_text)
        try:
            cost += float(cost_text) if cost_text else 0.0
        except ValueError:
            priced = False
        if token_text not in ("", "0") and not cost_text:
            priced = False
    if not tokens:
        return ""
    return human_tokens(tokens) + (f" ~{human_cost(cost)}" if priced else "")


def after_turn(
    program: str, run: object, spawn: object, tmux: str, pane: str, transcript: object, environ: dict[str, str]
) -> None:
    """Read the turn's new bytes, put the figures on the pane, update the summary and the budgets.

    ``run(argv)`` runs a command and returns its stdout as bytes (None on failure) and
    ``spawn(argv)`` starts one without waiting: both are the hook handler's,
    so this module adds no process machinery of its own. Two tmux calls.
    Only ``program``'s adapter is imported, and nothing is read when it reads no usage.
    """
    if not isinstance(transcript, str) or not transcript.startswith("/"):
        return
    from agents_tmux.programs import usage_reader

    if usage_reader(transcript, program) is None:
        return
    folder = usage_dir(environ)
    tally = Tally.load(transcript, folder, program)
    tally.update()
    settings = read_settings(folder)
    prices = settings.get("prices")
    prices = prices if isinstance(prices, dict) else {}
    from agents_tmux.tmuxtext import counted_format, read_counted

    args: list[str] = [tmux, "-u"]
    for option, value in pane_figures(tally, prices).items():
        args += ["set-option", "-p", "-t", pane, option, value, ";"]
    # Length-prefixed records, each after a tag ("P" a pane, "D" this pane's
    # settings), read by counting: a repository path or a notify command may
    # hold a tab, a newline or \x1f. tmux -u: bytes unaltered.
    pane_fields = ["pane_id", "@agent_name", "@agent_repo", "@agent_kind", "@agent_tokens", "@agent_cost"]
    own_fields = ["@agents_budget_level", "@agents-notify", "@agents-notify-command"]
    args += [
        "list-panes", "-a", "-F", "P" + counted_format(pane_fields),
        ";", "display-message", "-p", "-t", pane, "D" + counted_format(own_fields),
        ";", "list-clients", "-F", "#{client_name}",
    ]
    # tmux reads an argument ending in ';' as a command separator: keep a value's literal.
    out = run([a[:-1] + "\\;" if a != ";" and a.endswith(";") else a for a in args])  # type: ignore[operator]
    if not isinstance(out, bytes):
        return
    live: list[list[str]] = []
    previous, enabled, command = "", "", ""
    pos = 0
    try:
        while out[pos:pos + 1] == b"P":
            parts, pos = read_counted(out, pos + 1, len(pane_fields))
            if parts[0] == pane:
                tally.agent, tally.repo, tally.kind = parts[1] or tally.agent, parts[2] or tally.repo, parts[3] or tally.kind
            if parts[1]:
                live.append(parts[4:6])
        if out[pos:pos + 1] == b"D":
            (previous, enabled, command), pos = read_counted(out, pos + 1, len(own_fields))
    except ValueError:
        pos = len(out)  # an output not in this shape: the figures are still saved, nobody is told
    clients = [line for line in out[pos:].decode("utf-8", "replace").split("\n") if line]
    tally.save(folder)
    now = time.time()
    use = budget_use(settings, load_tallies(folder, now - 86400), now) if settings.get("budget") else []
    level = budget_level(use, warn_share(settings))
    follow: list[str] = [
        tmux, "set-option", "-gq", "@agents_usage", live_summary(live),
        ";", "set-option", "-gq", "@agents_budget_level", level,
        ";", "set-option", "-gq", "@agents_budget", f"{use[0][1] * 100:.0f}% budget" if level else "",
    ]
    # Said once: on the way up to "near", and again when it is spent.
    tell = level == "over" and previous != "over" or level == "near" and previous == ""
    text = f"agents: {describe_budget(use[0])}" + (" is spent" if level == "over" else "") if tell else ""
    if tell:
        for client in clients:
            follow += [";", "display-message", "-c", client, "-d", "4000", "--", no_formats(text)]
    run(follow)  # type: ignore[operator]
    if tell and level == "over" and enabled not in ("off", "0", "no", "false"):
        from agents_tmux.hook import ring_bell

        ring_bell(environ.get("AGENTS_TMUX_TTY", ""))
        if command:
            spawn(["/bin/sh", "-c", command + ' "$1"', "agents-notify", text])  # type: ignore[operator]


def settle(path: str, quiet: float = 0.3, longest: float = 5.0) -> None:
    """Wait until ``path`` stopped growing for ``quiet`` seconds (at most ``longest``).

    Claude Code writes the turn's last reply to its transcript shortly after
    the Stop hook fires.
    """
    deadline = time.monotonic() + longest
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def main(argv: list[str] | None = None) -> None:
    """``<python> -c ... PROGRAM TMUX PANE TRANSCRIPT``: :func:`after_turn`, started detached by the hook.

    One reading at a time per transcript (a lock beside its tally), so a late
    one never puts older figures over newer ones. A program may write the
    turn's last reply a moment after its hook fired: the transcript is watched
    for :data:`LATE_WRITES` seconds more and read again if it grew.
    """
    import fcntl
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        return
    program, tmux, pane, transcript = args
    try:
        from agents_tmux.hook import _run_raw, _spawn_detached

        environ = dict(os.environ)
        lock_path = tally_file(transcript, usage_dir(environ)) + ".lock"
        os.makedirs(os.path.dirname(lock_path), exist_ok=True)

        def read() -> int:
            settle(transcript)
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                size = _size(transcript)
                after_turn(program, _run_raw, _spawn_detached, tmux, pane, transcript, environ)
                return size

        size = read()
        deadline = time.monotonic() + LATE_WRITES
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if _size(transcript) != size:
                size = read()
    except Exception:  # noqa: BLE001, S110 - detached, with nobody to tell: figures are a convenience
        pass
