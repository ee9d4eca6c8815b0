"""`threads-api`: serve, migrate, and manage keys, spaces, webhooks and messages from the shell.

No command ever shows a traceback: every failure is one line on stderr (`Error: ...`) and a
non-zero exit (errors.py). The commands are commands.py.
"""

from threads_api.cli.commands import main

__all__ = ["main"]
