"""The one exception type every command turns into a single clear line."""

from __future__ import annotations


class AgentsError(Exception):
    """A problem the user can act on: printed as one line, exit status 1.

    Raised for bad input and for failed preconditions. Anything else that
    escapes is a bug and is still reported as one line (see ``cli.main``).
    """
