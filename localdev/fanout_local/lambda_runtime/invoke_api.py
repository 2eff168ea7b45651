"""The HTTP server speaking the Lambda Invoke API, in the engine's process (parent side).

``POST /2015-03-31/functions/{name}/invocations`` - the API ``sam local start-lambda``
serves and Step Functions' Lambda tasks call (point ``AWS_ENDPOINT_URL_LAMBDA`` here). Each
request runs on the function's pool (``pool.LambdaRuntime``); unhandled errors come back as
``X-Amz-Function-Error: Unhandled`` like on AWS.
"""

from __future__ import annotations

import json
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from .pool import LambdaRuntime

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"


class _InvokeHandler(BaseHTTPRequestHandler):
    server: LambdaInvokeServer
    protocol_version = "HTTP/1.1"
    # Responses leave at once, headers and body together (a buffered wfile, flushed after
    # each request). Written apart with Nagle's algorithm on, every request after the first
    # on a kept-alive connection waited ≈ 40 ms for the client's delayed ACK: 44 ms instead
    # of 1 ms per invocation for clients that reuse connections.
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the REPORT lines say what happened."""

    def handle_expect_100(self) -> bool:
        answered = super().handle_expect_100()
        self.wfile.flush()  # "100 Continue" cannot wait for the end of the request
        return answered

    def _reply(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, request_id: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        # An invocation's id is the one its REPORT line shows; refusals get their own.
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if not (path.startswith(INVOKE_PATH_PREFIX) and path.endswith("/invocations")):
            self._reply(HTTPStatus.NOT_FOUND, b'{"message":"not found"}')
            return
        name = path[len(INVOKE_PATH_PREFIX) : -len("/invocations")]
        runtime = self.server.runtime
        pool = runtime.resolve(name)
        if pool is None:
            message = json.dumps({"Type": "User", "message": f"Function not found: {unquote(name)}"}).encode()
            self._reply(HTTPStatus.NOT_FOUND, message, {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        fault = runtime.fault_injector(pool.spec.name) if runtime.fault_injector else None
        if fault is not None:
            status, code, message = fault
            body = json.dumps({"Type": "Service", "message": message}).encode()
            self._reply(status, body, {"x-amzn-ErrorType": code})
            return
        if self.headers.get("X-Amz-Invocation-Type") == "DryRun":
            self._reply(HTTPStatus.NO_CONTENT, b"")
            return
        try:
            event = json.loads(body or b"{}")
        except json.JSONDecodeError:
            message = b'{"Type":"User","message":"Could not parse request body into json"}'
            self._reply(HTTPStatus.BAD_REQUEST, message, {"x-amzn-ErrorType": "InvalidRequestContentException"})
            return
        invocation = runtime.invoke(pool, event)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(invocation.error).encode()
        else:
            payload = json.dumps(invocation.result).encode()
        self._reply(HTTPStatus.OK, payload, headers, request_id=invocation.request_id)


class LambdaInvokeServer(ThreadingHTTPServer):
    """Threaded HTTP server; ``url`` is what AWS_ENDPOINT_URL_LAMBDA should be."""

    daemon_threads = True

    def __init__(self, runtime: LambdaRuntime, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _InvokeHandler)
        self.runtime = runtime
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LambdaInvokeServer:
        # A short poll interval: shutdown() waits up to one interval (the default is 0.5 s).
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-invoke-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self.shutdown()
        self.server_close()
        self.runtime.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Requests still on kept-alive connections while the engine stops (a Map does not know)
        # fail as their environments go away: expected then, not worth a traceback.
        if not self._stopping:
            super().handle_error(request, client_address)
