"""`afenv push`'s pure parts: the registry argument, credentials, and what a refusal says."""

from __future__ import annotations

import pytest

from afenv.errors import ConfigError
from afenv.hub.push import PASSWORD, USERNAME, Registry, credentials, explain, parse_registry


@pytest.mark.parametrize(
    ("text", "host", "prefix", "repository"),
    [
        ("registry.example.org", "registry.example.org", "", "registry.example.org/cms-worker"),
        ("127.0.0.1:5000/af", "127.0.0.1:5000", "af", "127.0.0.1:5000/af/cms-worker"),
        ("localhost/a/b-c", "localhost", "a/b-c", "localhost/a/b-c/cms-worker"),
        (
            "harbor.infn.it/icsc_af",
            "harbor.infn.it",
            "icsc_af",
            "harbor.infn.it/icsc_af/cms-worker",
        ),
    ],
)
def test_registry_names_the_repositories(
    text: str, host: str, prefix: str, repository: str
) -> None:
    registry = parse_registry(text)
    assert registry == Registry(host=host, prefix=prefix)
    assert registry.repository("cms", "worker") == repository
    assert str(registry) == text


@pytest.mark.parametrize(
    "text",
    ["", "https://registry.example.org", "reg.example.org/", "reg.example.org//a", "reg:port",
     "reg.example.org:0", "-reg.example.org", "reg.example.org/a b", "reg.example.org/a$(x)"],
)  # fmt: skip
def test_a_bad_registry_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--registry"):
        parse_registry(text)


def test_credentials_come_in_pairs() -> None:
    assert credentials({}) is None
    assert credentials({USERNAME: "u", PASSWORD: "p"}) == {"username": "u", "password": "p"}
    with pytest.raises(ConfigError, match=f"{PASSWORD} is not set"):
        credentials({USERNAME: "u"})
    with pytest.raises(ConfigError, match=f"{USERNAME} is not set"):
        credentials({PASSWORD: "p"})


@pytest.mark.parametrize(
    ("detail", "says"),
    [
        ("unauthorized: authentication required", "refused the credentials"),
        ("no basic auth credentials", "refused the credentials"),
        ("denied: requested access to the resource is denied", "refused the credentials"),
        (
            "Get https://10.0.0.1:5000/v2/: x509: certificate signed by unknown authority",
            "/etc/docker/certs.d/10.0.0.1:5000/ca.crt",
        ),
        ("dial tcp 10.0.0.1:5000: connect: connection refused", "is not reachable"),
        ("blob upload unknown", "push of r:1 to 10.0.0.1:5000 failed: blob upload unknown"),
    ],
)
def test_a_refusal_says_what_to_fix(detail: str, says: str) -> None:
    line = explain(detail, Registry(host="10.0.0.1:5000", prefix=""), "r:1")
    assert says in line
    assert detail in line
