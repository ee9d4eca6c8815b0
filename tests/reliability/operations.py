"""The app's /v1 operations, read from its own OpenAPI document, with a valid body for each:
what the isolation matrix and the hostile-input tests run over."""

import re
from dataclasses import dataclass
from typing import Any

PATH_PARAM = re.compile(r"\{([^}]+)\}")
ID_PREFIXES = {
    "space_id": "spc",
    "thread_id": "thr",
    "message_id": "msg",
    "key_id": "key",
    "webhook_id": "whk",
    "delivery_id": "dlv",
}

# A valid body per request schema: what a write needs to get past the rules.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "SpaceCreate": {"name": "new space"},
    "SpaceUpdate": {"name": "renamed"},
    "ApiKeyCreate": {"name": "k", "scopes": ["read"], "space_ids": ["{space_id}"]},
    "ThreadWithMessageCreate": {"content": "a new thread"},
    "MessageCreate": {"content": "a new message"},
    "MessageUpdate": {"content": "an edited message"},
    "ThreadUpdate": {"title": "retitled"},
    "WebhookCreate": {"url": "https://example.com/hook"},
    "WebhookUpdate": {"description": "renamed"},
    "SecretRotation": {"expire_old_in_seconds": 0},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def is_write(self) -> bool:
        # A stream token is made with the read scope (api.md §14), though by a POST.
        return self.method != "GET" and not self.path.endswith("/stream-tokens")

    @property
    def body_schema(self) -> str | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    def url(self, ids: dict[str, str]) -> str:
        return PATH_PARAM.sub(lambda m: ids[m.group(1)], self.path)

    def body(self, ids: dict[str, str]) -> dict[str, Any] | None:
        name = self.body_schema
        if name is None:
            return None
        assert name in VALID_BODIES, f"{self}: add a valid {name} body to VALID_BODIES"
        return {
            k: [ids["space_id"] if v == "{space_id}" else v for v in value]
            if isinstance(value, list)
            else value
            for k, value in VALID_BODIES[name].items()
        }

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def v1_operations(document: dict[str, Any]) -> list[Operation]:
    operations = [
        Operation(method.upper(), path, spec)
        for path, methods in document["paths"].items()
        if path.startswith("/v1/")
        for method, spec in methods.items()
    ]
    assert len(operations) >= 16, "the route table shrank: did the document lose routes?"
    for operation in operations:
        unknown = set(operation.params) - ID_PREFIXES.keys()
        assert not unknown, f"{operation}: teach the isolation matrix about {unknown}"
    return operations
