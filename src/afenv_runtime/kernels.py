"""At notebook start-up: the experiment's CVMFS kernels whose stack is there (fcc's Key4hep).

The notebook image carries ``/etc/afenv/kernels.json`` (from ``[kernels.NAME]`` in the
experiment's spec). For each offer whose setup script exists (CVMFS mounted with that
repository), a kernelspec goes into a folder private to this uid; the folder is printed for
``afenv-start-notebook`` to put on ``JUPYTER_PATH``. Nothing is printed when nothing is
offered, so a pod without CVMFS shows the image's kernels only, and no stale kernel survives
in the user's home. A line on stderr says what was offered, for the server's log.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CONFIG", "available", "kernelspec", "main", "write_kernelspecs"]

CONFIG = Path("/etc/afenv/kernels.json")
# Sources the stack's setup script with no positional arguments (Key4hep's reads them), then
# runs the stack's python3 as the kernel: the image's Python is not the stack's.
_LAUNCH = (
    'connection="$1"; set --; . "$AFENV_KERNEL_SETUP" >&2 '
    '&& exec python3 -m ipykernel_launcher -f "$connection"'
)


def available(
    offers: Sequence[dict[str, str]], exists: Callable[[str], bool] = os.path.isfile
) -> list[dict[str, str]]:
    return [offer for offer in offers if exists(offer["setup"])]


def kernelspec(offer: dict[str, str]) -> dict[str, Any]:
    return {
        "argv": ["/bin/bash", "-c", _LAUNCH, "afenv-kernel", "{connection_file}"],
        "display_name": offer["display_name"],
        "language": "python",
        "env": {"AFENV_KERNEL_SETUP": offer["setup"]},
        "metadata": {"afenv": {"setup": offer["setup"]}},
    }


def write_kernelspecs(offers: Sequence[dict[str, str]], data_dir: Path) -> list[Path]:
    """One ``kernels/<name>/kernel.json`` per offer under ``data_dir``; returns the files."""
    written = []
    for offer in offers:
        folder = data_dir / "kernels" / offer["name"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "kernel.json"
        path.write_text(json.dumps(kernelspec(offer), indent=1) + "\n")
        written.append(path)
    return written


def main(config: Path = CONFIG) -> int:
    try:
        offers = json.loads(config.read_text())
    except FileNotFoundError:
        return 0
    found = available(offers)
    if not found:
        return 0
    # Private, per uid, fresh per start: /tmp is the one place any uid can write.
    data_dir = Path(tempfile.mkdtemp(prefix=f"afenv-kernels-{os.getuid()}-"))
    write_kernelspecs(found, data_dir)
    for offer in found:
        print(
            f"afenv: offering the {offer['display_name']!r} kernel ({offer['setup']} found)",
            file=sys.stderr,
        )
    print(data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
