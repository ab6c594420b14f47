"""The hook command Claude runs: ``python -I -S run_hook.py`` (see :mod:`agents_tmux.hook`).

A script given on the command line is compiled afresh every time; a module
it imports is loaded from its cached bytecode. Keeping the script this
small saves the handler's compile on every event, about a third of its cost.
"""

import sys

if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 2)[0])
    from agents_tmux.hook import main

    sys.exit(main())
