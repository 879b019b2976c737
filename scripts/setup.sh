#!/usr/bin/env bash
# Prepare this checkout on a Debian host: a Docker engine, and .venv with afenv and its tests.
# Idempotent; run by scripts/afenv and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-docker.sh

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
