r"""Text on its way to and from tmux: kept literal going in, read back exactly coming out.

Going in: tmux expands formats (``#{...}``, and ``#(...)``, which runs a
shell command) in many arguments: window and pane titles (``new-window -n``,
``select-pane -T``), session names, ``display-message``, menu labels, popup
titles, ``-c`` folders. Every text that is not a format of ours goes through
:func:`no_formats` before it reaches one of those.

Coming out: read several tmux values in one call, whatever text they hold.

tmux formats cannot escape what they print, so no separator is safe: a task
may hold a newline, a tab or ``\x1f``, and a folder name may too. Each value
is therefore printed after its own length (``#{n:X}`` is its length in bytes)
and read back by counting, never by splitting::

    #{n:@agent_task}:#{@agent_task}#{n:pane_id}:#{pane_id}\n

The tmux client must be run with ``-u``: without it, a client in a locale
that is not UTF-8 prints every non-ASCII or control character as ``_``, and
the lengths would not match. Standard library only, and no imports at all:
the hook handler uses it.
"""

from __future__ import annotations


def no_formats(text: str) -> str:
    """``text`` for a tmux argument that tmux expands formats in, kept literal.

    ``##`` is tmux's literal ``#``, so neither ``#{...}`` nor ``#(...)`` in a
    task, a name or a folder is ever expanded or run.

    >>> no_formats("/src/a #{pane_id} ##b #(touch x)")
    '/src/a ##{pane_id} ####b ##(touch x)'
    """
    return text.replace("#", "##")


def counted_format(names: list[str] | tuple[str, ...]) -> str:
    """A format printing each of ``names`` (format variables or options) length-prefixed.

    >>> counted_format(["pane_id", "@agent_name"])
    '#{n:pane_id}:#{pane_id}#{n:@agent_name}:#{@agent_name}'
    """
    return "".join("#{n:%s}:#{%s}" % (name, name) for name in names)


def parse_counted(data: bytes, count: int) -> list[list[str]]:
    r"""Records of ``count`` values each, from tmux output made with :func:`counted_format`.

    Each record ends with the newline tmux prints after every line of output.
    Raises ``ValueError`` when the output is not in that shape (a tmux too old
    for ``#{n:}``, or a client that altered the text).

    >>> parse_counted(b"3:a\nb1:%\n0:1:x\n", 2)
    [['a\nb', '%'], ['', 'x']]
    """
    records: list[list[str]] = []
    pos = 0
    while pos < len(data):
        fields, pos = read_counted(data, pos, count)
        records.append(fields)
    return records


def read_counted(data: bytes, pos: int, count: int) -> tuple[list[str], int]:
    r"""One record of ``count`` counted values starting at byte ``pos``, and where the next output starts.

    For output that mixes counted records with other lines (``list-clients``
    after a ``display-message``); raises ``ValueError`` like :func:`parse_counted`.

    >>> read_counted(b"P2:\t\n1:x\nrest\n", 1, 2)
    (['\t\n', 'x'], 9)
    """
    fields: list[str] = []
    for _ in range(count):
        colon = data.index(b":", pos)
        digits = data[pos:colon]
        if not digits.isdigit():
            raise ValueError(f"expected a length at byte {pos}")
        start = colon + 1
        end = start + int(digits)
        if end > len(data):
            raise ValueError("a value is shorter than its length")
        fields.append(data[start:end].decode("utf-8", "backslashreplace"))
        pos = end
    if data[pos:pos + 1] != b"\n":
        raise ValueError(f"expected the end of a record at byte {pos}")
    return fields, pos + 1
