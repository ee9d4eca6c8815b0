"""A standard generator (openapi-python-client) makes a clean client from the document: no
warnings, and modules named after the operations (issue 9)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from threads_api.app import create_app
from threads_api.config import Settings

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.mark.slow  # the generator in a subprocess: 1.4-2 s on a busy machine
def test_openapi_python_client_generates_a_clean_client(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, database_url="sqlite:///unused.db"))
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(app.openapi()))
    # No post hooks: formatting the output with ruff is not what is tested here.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "client"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output

    modules = {path.stem for path in (tmp_path / "client" / "api").rglob("*.py")}
    assert {
        "list_threads",
        "get_thread",
        "create_thread_with_message",
        "list_messages",
        "create_message",
        "create_space",
        "create_api_key",
        "revoke_api_key",
        "healthz",
        "create_webhook",
        "rotate_webhook_secret",
        "retry_webhook_delivery",
    } <= modules
    packages = {path.name for path in (tmp_path / "client" / "api").iterdir() if path.is_dir()}
    assert packages == {
        "spaces",
        "threads",
        "messages",
        "api_keys",
        "events",
        "webhooks",
        "operations",
    }
