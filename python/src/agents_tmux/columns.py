"""Text in terminal columns: how wide a string is drawn, padded or cut to a width.

One measure for every table and menu the plugin draws (``agents list``,
``agents usage``, the menus): wide characters (CJK, most emoji) take two
columns, combining marks, zero-width joiners and variation selectors none,
as tmux and terminals draw them.
"""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal.

    >>> display_width("fix"), display_width("修复"), display_width("🚀a"), display_width("e\\u0301"), display_width("👩\\u200d💻")
    (3, 4, 3, 1, 4)
    """
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns (left-aligned)."""
    return text + " " * max(0, width - display_width(text))


def pad_left(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` columns."""
    return " " * max(0, width - display_width(text)) + text


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (with an ellipsis) and padded to it.

    >>> fit("fix-login", 12) + "|", fit("a-very-long-agent-name", 10) + "|", fit("⏳", 2) + "|", fit("修复登录", 5) + "|"
    ('fix-login   |', 'a-very-lo…|', '⏳|', '修复…|')
    """
    if display_width(text) > width:
        while text and display_width(text) > width - 1:
            text = text[:-1]
        text += "…"
    return pad(text, width)
