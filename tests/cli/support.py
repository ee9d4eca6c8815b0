"""Helpers for the CLI tests: the CLI in a process of its own, and the shape of a failure."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Invoke = Callable[..., Result]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}


def shell(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`threads-api ARGS` in a process of its own: what the operator sees on a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "threads_api", *args],
        env={**clean_env(), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: Result | subprocess.CompletedProcess[str]) -> str:
    """Assert the command failed the way every failure should; return the message."""
    if isinstance(result, Result):
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr
        # An exception click did not turn into an exit is what would have been a traceback.
        assert isinstance(result.exception, SystemExit), result.exception
    else:
        code, stdout, stderr = result.returncode, result.stdout, result.stderr
    assert code != 0
    assert stdout == ""
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("Error: "), stderr
    return stderr.removeprefix("Error: ").rstrip("\n")
