"""The README tours run as printed, against a real server on each database."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_servers import ADMIN_KEY, Server

pytestmark = pytest.mark.slow

SDK_README = Path(__file__).parents[1] / "README.md"
MAIN_README = Path(__file__).parents[3] / "README.md"


def _python_blocks(text: str) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL))


def _run(code: str, server: Server) -> str:
    env = {**os.environ, "THREADS_API_URL": server.url, "THREADS_API_KEY": ADMIN_KEY}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_five_minute_tour(server: Server) -> None:
    out = _run(_python_blocks(SDK_README.read_text()), server)
    for expected in (
        "My order has not arrived 1",
        "True True",
        "412 precondition_failed",
        "[1, 2, 3, 4, 5, 6]",
        "True [1, 2]",
        "[3, 4]\n[6]",
        "409 thread_closed",
        "thread_not_found",
        "1\nunauthorized",
        "True\nFalse ['message.created']\n[]",
        "6 Follow-up 3",
    ):
        assert expected in out, out


def test_the_main_readme_example(server: Server) -> None:
    section = MAIN_README.read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    out = _run(_python_blocks(section), server)
    assert "Order 1042 not delivered" in out and "[1, 2]" in out, out
