"""One module per ``fanout`` command, named for it; each has ``command(args) -> exit code``."""
