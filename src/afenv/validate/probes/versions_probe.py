"""Runs inside the client container (the singleuser image) during `afenv validate`, and with
the argument ``installed`` inside any afenv image for `afenv verify`. Standalone on purpose: it
runs under the image's own Python, in images afenv did not build too, so it imports nothing of
afenv's (hence its own copy of PEP 503 name normalisation).

Waits for the expected workers (recording when each registered), then connects as a user would
and reports: VersionMismatchWarnings raised on connect, the result of
``get_versions(check=True)``, and every installed distribution with Python's exact version on
the client, the scheduler and each worker. Prints one JSON document on stdout.
"""

import datetime as dt
import importlib.metadata
import json
import platform
import re
import sys
import time
import warnings


def installed():
    packages = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[re.sub(r"[-_.]+", "-", name).lower()] = dist.version
    packages["python"] = platform.python_version()
    return packages


def main():
    if sys.argv[1:] == ["installed"]:  # `afenv verify`: this image's distributions only
        print(json.dumps(installed()))
        return 0
    address, expected, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    from distributed import Client
    from distributed.versions import VersionMismatchWarning

    result = {"registered": {}, "warnings": [], "check": None}
    deadline = time.monotonic() + timeout
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watcher = Client(address, timeout=timeout, set_as_default=False)
        # Poll the scheduler's view (a condition, not a fixed delay) to time each registration.
        while time.monotonic() < deadline:
            info = watcher.scheduler_info(n_workers=-1)["workers"]
            now = dt.datetime.now(dt.timezone.utc).isoformat()
            for worker in info.values():
                result["registered"].setdefault(str(worker.get("name")), now)
            if len(result["registered"]) >= expected:
                break
            time.sleep(0.2)
        watcher.close()
    if len(result["registered"]) < expected:
        print(json.dumps(result))
        return 3

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = Client(address, timeout=timeout, set_as_default=False)
    result["warnings"] = [
        str(w.message) for w in caught if issubclass(w.category, VersionMismatchWarning)
    ]
    try:
        client.get_versions(check=True)
        result["check"] = "passed"
    except ValueError as exc:
        result["check"] = str(exc)
    result["client"] = installed()
    result["scheduler"] = client.run_on_scheduler(installed)
    by_address = client.run(installed)
    names = {
        a: str(w.get("name")) for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
    }
    result["workers"] = {names.get(a, a): pkgs for a, pkgs in by_address.items()}
    client.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
