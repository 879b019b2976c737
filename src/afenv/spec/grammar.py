"""Strict grammars for every spec value that reaches a Dockerfile, a shell or a path.

Whitelists, not blacklists: a value either matches its grammar or is refused with the rule it
broke. Templates quote what they interpolate as well; this is the first line of defence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from afenv.errors import ConfigError

__all__ = ["RULES", "Rule", "canonical_name", "check_option", "shown"]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    says: str  # the rule, as the error message states it
    max_length: int = 200

    def accepts(self, value: str) -> bool:
        return len(value) <= self.max_length and self.pattern.fullmatch(value) is not None


def _rule(pattern: str, says: str, max_length: int = 200) -> Rule:
    return Rule(re.compile(pattern), says, max_length)


RULES: dict[str, Rule] = {
    "experiment": _rule(
        r"[a-z][a-z0-9-]{0,30}[a-z0-9]|[a-z]", "lower-case letters, digits, '-'", 32
    ),
    "facility": _rule(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "letters, digits, '.', '_', '-'", 63),
    # Debian policy 5.6.1 (package names) and 5.6.12 (versions).
    "debian_package": _rule(r"[a-z0-9][a-z0-9+.-]+", "a Debian package name (no version)", 100),
    "debian_version": _rule(
        r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*", "a Debian version ([epoch:]upstream[-revision])", 100
    ),
    "suite": _rule(r"[a-z]+", "a Debian suite code name", 20),
    # A DNS name with at least one dot: cms.cern.ch, sw.hsf.org.
    "cvmfs": _rule(
        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+",
        "a CVMFS repository name (DNS-like, e.g. cms.cern.ch)",
        253,
    ),
    "vo": _rule(r"[a-z0-9][a-z0-9._-]{0,62}", "a VO name (lower-case, digits, '.', '_', '-')", 63),
    "env_name": _rule(r"[A-Za-z_][A-Za-z0-9_]*", "a POSIX environment variable name", 100),
    # One printable line: no control characters at all (newlines, tabs, NUL, escapes).
    "env_value": _rule(r"[^\x00-\x1f\x7f]*", "one printable line", 1000),
    "text": _rule(r"[^\x00-\x1f\x7f]+", "one printable line", 200),
    "url": _rule(
        r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%+/-]*)?",
        "an http(s) URL without spaces, quotes, query or fragment",
        300,
    ),
    # A host path that is bound into containers: the engine's bind syntax splits on ':' and ','.
    "host_path": _rule(
        r"/[A-Za-z0-9._+@=/-]*", "an absolute path of letters, digits and . _ + @ = / -", 1024
    ),
    # A notebook pod's memory as KubeSpawner reads it (jupyterhub's ByteSpecification): the
    # suffix is required, since a bare number would be bytes and no pod starts with 4 bytes.
    "memory": _rule(
        r"[1-9][0-9]{0,5}(?:\.[0-9]{1,3})?[KMGT]",
        "a size such as 512M or 2G (K, M, G, T are powers of 1024, as in KubeSpawner)",
        12,
    ),
    # A Kubernetes object name (DNS-1123 label): namespaces, service accounts.
    "k8s_name": _rule(
        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
        "a Kubernetes name (lower-case letters, digits, '-'; at most 63)",
        63,
    ),
    # A notebook's file name: it names a folder in the client container and in the report.
    "notebook": _rule(
        r"[A-Za-z0-9][A-Za-z0-9._-]*\.ipynb",
        "a file name of letters, digits, . _ - ending .ipynb",
        100,
    ),
    # A Jupyter kernel an experiment offers (its kernelspec's folder name).
    "kernel": _rule(
        r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?",
        "a kernel name (lower-case letters, digits, _ and -; at most 40)",
        40,
    ),
    # A file on CVMFS (a stack's setup script): /cvmfs/<repository>/..., no '..' or '.' steps.
    "cvmfs_file": _rule(
        r"/cvmfs/[a-z0-9][a-z0-9.-]*(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._+-]+)+",
        "a file under /cvmfs/<repository>/ (letters, digits, . _ + -; no '..')",
        500,
    ),
    # An experiment's own image check (images/<exp>/checks/): a pytest module pytest collects.
    "check_file": _rule(
        r"(?:test_[a-z0-9_]+|conftest)\.py",
        "test_<lower-case letters, digits, _>.py (or conftest.py)",
        100,
    ),
    # Where `afenv push` sends images: a registry host (DNS name or IPv4) with an optional port
    # and a path prefix of Docker repository components (lower-case).
    "registry": _rule(
        r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)"
        r"(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
        "HOST[:PORT][/PREFIX] (lower-case host, optional port, repository path)",
        200,
    ),
    # A hub user: it names the user's containers, network and home volume, and JupyterHub
    # puts it in URLs (/user/<name>/), so no escaping is ever needed.
    "hub_user": _rule(
        r"[a-z][a-z0-9-]{0,30}[a-z0-9]|[a-z]",
        "lower-case letters, digits, '-' (first a letter)",
        32,
    ),
    # An IPv4 address the hub listens on (the engine's bridge and the proxy take IPv4 here).
    "ipv4": _rule(
        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
        r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
        "an IPv4 address such as 127.0.0.1",
        15,
    ),
    "timestamp": _rule(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?",
        "a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SSZ",
        20,
    ),
}


def canonical_name(name: str) -> str:
    """A Python distribution name as PEP 503 compares them (the one normalisation afenv uses
    on the host; packaging's, so that lock, spec and checks agree)."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def shown(value: object, width: int = 60) -> str:
    """A value as an error message may quote it: one line, bounded."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def check_option(option: str, value: str, rule: str) -> str:
    """``value`` of command-line option ``option`` if it matches ``rule``; else the one-line
    error naming the option and the rule."""
    if not RULES[rule].accepts(value):
        raise ConfigError(f"{option}: {shown(value)} is not {RULES[rule].says}")
    return value
