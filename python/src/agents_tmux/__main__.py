"""``python -m agents_tmux`` runs the ``agents`` command line."""

from agents_tmux.cli import main

raise SystemExit(main())
