"""A JupyterHub as its REST API and its login page show it, for tests and benchmarks of
`afenv hub up`: no hub internals, only what an admin's script or a browser would use."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import requests

__all__ = ["Hub", "LoginResult"]

_PROGRESS_LINE = re.compile(r"^data: (.*)$")


@dataclass(frozen=True)
class LoginResult:
    status: int
    logged_in: bool  # the hub set its login cookie
    location: str


@dataclass(frozen=True)
class Hub:
    url: str  # http://127.0.0.1:PORT
    token: str  # an admin's (afenv's service token)

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # a local hub: no site proxy sees the token
        return session

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        with self._session() as session:
            response = session.request(
                method,
                f"{self.url}/hub/api{path}",
                headers={"Authorization": f"token {token or self.token}"},
                data=None if body is None else json.dumps(body),
                timeout=60,
            )
        response.raise_for_status()
        return response.json() if response.content else None

    def get(self, path: str, token: str) -> requests.Response:
        """GET ``path`` (from the hub's root: /user/NAME/…) through the proxy with ``token``."""
        with self._session() as session:
            return session.get(
                f"{self.url}{path}", headers={"Authorization": f"token {token}"}, timeout=60
            )

    def login(self, user: str, password: str) -> LoginResult:
        """The login form as a browser posts it: the page's XSRF token, then the form."""
        with self._session() as session:
            page = session.get(f"{self.url}/hub/login", timeout=30)
            page.raise_for_status()
            xsrf = session.cookies.get("_xsrf") or ""
            response = session.post(
                f"{self.url}/hub/login",
                data={"username": user, "password": password, "_xsrf": xsrf},
                allow_redirects=False,
                timeout=30,
            )
            logged_in = any(c.name.startswith("jupyterhub-hub-login") for c in session.cookies)
        return LoginResult(response.status_code, logged_in, response.headers.get("Location", ""))

    def spawn(self, user: str, options: dict[str, str], *, timeout: float = 600) -> float:
        """Start ``user``'s server with ``options`` (the form's fields); returns the seconds
        until the hub said it was ready, read from the hub's progress stream."""
        started = time.monotonic()
        self.api("POST", f"/users/{user}/server", options)
        with (
            self._session() as session,
            session.get(
                f"{self.url}/hub/api/users/{user}/server/progress",
                headers={"Authorization": f"token {self.token}"},
                stream=True,
                timeout=timeout,
            ) as stream,
        ):
            for line in stream.iter_lines(decode_unicode=True):
                match = _PROGRESS_LINE.match(str(line or ""))
                if match is None:
                    continue
                event = json.loads(match.group(1))
                if event.get("ready"):
                    return time.monotonic() - started
                if event.get("failed"):
                    raise RuntimeError(f"{user}'s server failed: {event.get('message')}")
        raise RuntimeError(f"{user}'s progress stream ended before the server was ready")

    def stop(self, user: str, *, timeout: float = 300) -> None:
        """Stop ``user``'s server and return once the hub has it stopped."""
        self.api("DELETE", f"/users/{user}/server")
        deadline = time.monotonic() + timeout
        # 202: stopping. The hub's user model is the only place that says when it is done.
        while "" in (self.api("GET", f"/users/{user}").get("servers") or {}):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user}'s server did not stop in {timeout} s")
            time.sleep(0.5)

    def user_token(self, user: str) -> str:
        return str(self.api("POST", f"/users/{user}/tokens", {"note": "afenv test"})["token"])

    def server_url(self, user: str) -> str:
        return f"{self.url}/user/{user}"
