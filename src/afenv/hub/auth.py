"""JupyterHub's login, against afenv's users file (see :mod:`afenv.hub.users`).

The file is read at every login, so that an admin's `afenv hub passwd` (a new user, a changed
password, a line removed) counts from the next login, without a hub restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode, default

from afenv.errors import ConfigError
from afenv.hub.users import check_password, read_users

__all__ = ["UsersFileAuthenticator"]


class UsersFileAuthenticator(Authenticator):  # type: ignore[misc]  # jupyterhub is untyped
    users_file = Unicode(help="afenv's users file (NAME:BCRYPT lines)").tag(config=True)

    def _users(self) -> dict[str, str]:
        try:
            return read_users(Path(self.users_file))
        except ConfigError as error:
            # A broken file lets nobody in, and says why in the hub's log.
            self.log.error("afenv: %s", error)
            return {}

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:  # noqa: ARG002
        name, password = data.get("username", ""), data.get("password", "")
        # bcrypt costs a quarter second of CPU: off the event loop, which serves everyone.
        users = await asyncio.to_thread(self._users)
        if await asyncio.to_thread(check_password, users, name, password):
            return name
        self.log.warning("afenv: failed login for %r", name[:40])
        return None

    def check_allowed(self, username: str, authentication: Any = None) -> bool:  # noqa: ARG002
        # Listed in the file now: removing a user's line ends their access at the next login.
        return username in self._users()

    @default("any_allow_config")
    def _file_is_the_allow_list(self) -> bool:
        return True
