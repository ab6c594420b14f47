"""Turn a task typed by a user into a name that is safe for branches, folders and tmux.

>>> slugify("Fix the login redirect")
'fix-the-login-redirect'
>>> slugify('"; rm -rf ~ #')
'rm-rf'
>>> slugify("Café: résumé upload")
'cafe-resume-upload'
"""

from __future__ import annotations

import unicodedata

from agents_tmux.errors import AgentsError

#: Longest slug kept from a task. Branch names and folder names stay readable
#: in `git branch` and in a tmux pane border; the suffix ``-N`` comes on top.
MAX_SLUG_LENGTH = 48


def slugify(task: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Lower-case letters and digits of ``task`` joined by single dashes.

    Accents are folded (``é`` becomes ``e``); letters of other scripts are
    kept as they are, since git and file systems accept them. The result is
    cut at a dash when possible so that words stay whole.
    """
    text = unicodedata.normalize("NFKD", task.strip())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words: list[str] = []
    current: list[str] = []
    for ch in text.lower():
        if ch.isalnum() and ch.isprintable():
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    if not words:
        if not task.strip():
            raise AgentsError("the task is empty: say what the agent should do")
        raise AgentsError("the task has no letters or digits to name a branch after")
    slug = "-".join(words)
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug


def numbered(slug: str, number: int) -> str:
    """The ``number``-th candidate name for ``slug``: itself, then ``slug-2``, ``slug-3``..."""
    return slug if number <= 1 else f"{slug}-{number}"
