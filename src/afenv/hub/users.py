"""The hub's users file: who may log in, each with their own password.

The format is Apache's ``htpasswd -B`` (bcrypt) file, one ``name:hash`` line per user, so that an
admin may keep using the tool they know; `afenv hub passwd FILE NAME` writes the same lines.
Only bcrypt hashes are accepted: the other htpasswd schemes (MD5-crypt, SHA-1, crypt, plain)
are too weak to bet a facility's accounts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from afenv.errors import ConfigError
from afenv.hub.settings import write_private
from afenv.spec.grammar import RULES, shown

__all__ = ["check_password", "hash_password", "parse_users", "read_users", "set_password"]

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_LENGTH = 60
# What checking an unknown user's password costs too: a login's timing does not say whether
# the name exists (a valid bcrypt hash of a random string, cost 12 like hash_password's).
_DUMMY_HASH = b"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
MIN_PASSWORD = 8


def parse_users(text: str, *, source: str) -> dict[str, str]:
    """name -> bcrypt hash, from a users file's text; blank lines and ``#`` comments skipped."""
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, password_hash = line.partition(":")
        where = f"{source}: line {number}"
        if not colon:
            raise ConfigError(f"{where}: is not NAME:HASH; write it with `afenv hub passwd`")
        if not RULES["hub_user"].accepts(name):
            raise ConfigError(f"{where}: user {shown(name)} is not {RULES['hub_user'].says}")
        if not (
            password_hash.startswith(_BCRYPT_PREFIXES) and len(password_hash) == _BCRYPT_LENGTH
        ):
            raise ConfigError(
                f"{where}: {name}'s password is not a bcrypt hash; set it with "
                f"`afenv hub passwd {source} {name}` (or htpasswd -B)"
            )
        if name in users:
            raise ConfigError(f"{where}: user {name} is listed twice; keep one line")
        users[name] = password_hash
    return users


def read_users(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such users file; create it with `afenv hub passwd`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the users file ({error})") from None
    users = parse_users(text, source=str(path))
    if not users:
        raise ConfigError(f"{path}: lists no user; add one with `afenv hub passwd {path} NAME`")
    return users


def hash_password(password: str) -> str:
    import bcrypt  # the hub extra's; only the hub's commands need it

    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password: shorter than {MIN_PASSWORD} characters; choose a longer one")
    if len(password.encode()) > 72:
        # bcrypt reads 72 bytes: a longer password would be cut without saying so.
        raise ConfigError("password: longer than 72 bytes, which bcrypt would cut; shorten it")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def check_password(users: Mapping[str, str], name: str, password: str) -> bool:
    """True if ``name`` is listed with ``password``; costs the same for an unlisted name."""
    import bcrypt

    listed = users.get(name)
    stored = _DUMMY_HASH if listed is None else listed.encode()
    # htpasswd writes $2y$, the same algorithm as $2b$ under another name.
    stored = b"$2b$" + stored[4:] if stored.startswith(b"$2y$") else stored
    try:
        matches = bcrypt.checkpw(password.encode()[:72], stored)
    except ValueError:  # a hash bcrypt cannot read: never a login
        return False
    return matches and listed is not None


def set_password(path: Path, name: str, password: str) -> bool:
    """Add ``name`` to the users file (created private) or change their password; True if the
    user is new. Written whole, so a reading hub sees the old file or the new one."""
    if not RULES["hub_user"].accepts(name):
        raise ConfigError(f"NAME: {shown(name)} is not {RULES['hub_user'].says}")
    users = parse_users(path.read_text(encoding="utf-8"), source=str(path)) if path.exists() else {}
    new = name not in users
    users[name] = hash_password(password)
    text = "".join(f"{user}:{users[user]}\n" for user in sorted(users))
    partial = path.with_name(f".{path.name}.partial")
    try:
        write_private(partial, text)
        partial.replace(path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the users file ({error.strerror})") from None
    finally:
        partial.unlink(missing_ok=True)
    return new
