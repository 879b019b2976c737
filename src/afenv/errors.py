"""The errors afenv reports to users, each with its exit code.

Every failure a user can cause or fix surfaces as one of these; the CLI prints the message on one
line (no traceback) and exits with the class's code. Messages name the file, field or image that is
wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AfenvError",
    "BenchmarkFailed",
    "BuildError",
    "ConfigError",
    "DockerUnavailable",
    "FetchError",
    "HubError",
    "Interrupted",
    "LockError",
    "MatrixFailed",
    "PushError",
    "ValidationFailed",
]


class AfenvError(Exception):
    """Base class: a failure explained to the user in one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AfenvError):
    """A spec file (envs/, images/<exp>/) or a command-line value is wrong."""

    exit_code = 2


class LockError(AfenvError):
    """The lock cannot be made (unresolvable pins) or is out of date with its inputs."""

    exit_code = 3


class FetchError(AfenvError):
    """A download failed: index or mirror unreachable, or a file does not match its hash."""

    exit_code = 4


class DockerUnavailable(AfenvError):
    """No Docker engine answers, or it stopped answering or failed mid-command."""

    exit_code = 5


class BuildError(AfenvError):
    """An image build or base bootstrap failed."""

    exit_code = 6


class ValidationFailed(AfenvError):
    """An image pair did not pass validation."""

    exit_code = 7


class BenchmarkFailed(AfenvError):
    """A benchmark mode failed, or modes disagreed."""

    exit_code = 8


class PushError(AfenvError):
    """A registry refused a push: credentials, TLS trust, reachability, or the upload itself."""

    exit_code = 9


class HubError(AfenvError):
    """The hub `afenv hub up` started did not come up, or one afenv started will not stop."""

    exit_code = 10


class MatrixFailed(AfenvError):
    """A cell of `afenv matrix` failed (lock check, build or validate); every other cell ran."""

    exit_code = 11


class Interrupted(AfenvError):
    """The user interrupted afenv; whatever it had started was cleaned up."""

    exit_code = 130
