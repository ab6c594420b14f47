"""One module per ``agents`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
