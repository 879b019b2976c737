"""Run code in a kernel of a Jupyter server as JupyterLab does: over the server's REST API and
its kernel websocket (Jupyter's messaging protocol, JSON frames), with a user's token.

For tests and benchmarks of a hub: ``base`` is a server's URL through the hub's proxy
(``http://127.0.0.1:8000/user/alice``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

__all__ = ["KernelOutput", "execute", "rest"]


@dataclass
class KernelOutput:
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None  # ename, evalue, traceback of an exception
    results: list[dict[str, Any]] = field(default_factory=list)  # execute_result data

    @property
    def ok(self) -> bool:
        return self.error is None


def rest(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        data = response.read()
    return json.loads(data) if data else None


def _message(code: str, session: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "afenv",
            "session": session,
            "date": dt.datetime.now(dt.UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def _run(base: str, token: str, kernel: str, code: str, timeout: float) -> KernelOutput:
    ws_url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
    connection = await websocket_connect(
        HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}, connect_timeout=30)
    )
    request = _message(code, uuid.uuid4().hex)
    msg_id = request["header"]["msg_id"]
    output = KernelOutput()
    idle = replied = False
    try:
        await connection.write_message(json.dumps(request))
        # The kernel's reply and its iopub "idle" can come in either order: wait for both.
        while not (idle and replied):
            frame = await asyncio.wait_for(connection.read_message(), timeout)
            if frame is None:
                raise ConnectionError("the kernel's websocket closed")
            message = json.loads(frame)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    output.stdout += content["text"]
                else:
                    output.stderr += content["text"]
            elif kind == "execute_result":
                output.results.append(content["data"])
            elif kind == "error":
                output.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
    finally:
        connection.close()
        # Until the server's close frame: the socket is closed, not left to the collector.
        with contextlib.suppress(asyncio.TimeoutError):
            while await asyncio.wait_for(connection.read_message(), 10) is not None:
                pass
    return output


def execute(
    base: str, token: str, code: str, *, timeout: float = 600, kernel_name: str = "python3"
) -> KernelOutput:
    """Start a kernel (python3 unless named) on the server at ``base``, run ``code`` in it,
    shut it down."""
    kernel = rest("POST", f"{base}/api/kernels", token, {"name": kernel_name})["id"]
    try:
        return asyncio.run(_run(base, token, kernel, code, timeout))
    finally:
        rest("DELETE", f"{base}/api/kernels/{kernel}", token)
