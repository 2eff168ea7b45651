"""Run a handler as a given IAM user, the way each Lambda function runs as its own role.

On Lambda every function is its own process with its role's credentials. Here the three
handlers share the test process, and s3fanout.runtime keeps one botocore session (its
credentials resolved once) and one S3 client per endpoint for the life of the process - as
a warm Lambda should. Switching identity therefore closes those and forgets them; the next
handler resolves the credentials the environment now holds.
"""

from __future__ import annotations

import pytest

from s3fanout import runtime
from tests.support.moto_process import AccessKey


def forget_runtime_clients() -> None:
    runtime._close_clients()
    runtime._clients.clear()
    runtime._http_sessions.clear()
    runtime._exit_stack = None
    runtime._session.cache_clear()
    runtime.settings.cache_clear()


class FunctionIdentities:
    """``as_function(name)`` for tests.support.flow.run_handlers: that function's environment
    variables and credentials, S3 at ``endpoint``."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        keys: dict[str, AccessKey],
        *,
        endpoint: str,
        environments: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.monkeypatch = monkeypatch
        self.keys = keys
        self.endpoint = endpoint
        self.environments = environments or {}
        self.current: str | None = None
        self.entered: list[str] = []  # which handler ran, in order: where a run failed

    def __call__(self, function: str) -> None:
        self.entered.append(function)
        if function == self.current:
            return
        key = self.keys[function]
        for name, value in self.environments.get(function, {}).items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.access_key_id)
        self.monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret_access_key)
        self.monkeypatch.setenv("S3_ENDPOINT_URL", self.endpoint)
        forget_runtime_clients()
        self.current = function
