"""What a push costs, and what `afenv hub profiles` costs, on this machine.

    .venv/bin/python benchmarks/bench_push.py [--second fcc]

A fresh registry (Debian's docker-registry on loopback, storage in a temporary folder) receives
the cms pair, then a second experiment's pair: wall time, the layers sent and reused, the
layer bytes the engine reported for what it sent, and what the registry stored (compressed).
The second push shows what the shared layers save. Both pairs must be built (`afenv build cms`,
`afenv build fcc --no-validate`); pairs that did not pass validation are pushed with --force,
since the cost is the same. Then the profiles for both spawners, and the check the
tests make (the values merged over the chart's defaults against its schema), timed through
afenv's functions on the two pairs just pushed. Writes
``benchmarks/results/push.json`` and prints Markdown. The pushes are recorded in the project's
state like any push (under the temporary registry's address).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ds import machine, machine_line
from common import RESULTS, ROOT, afenv_cli

from afenv.testing import registry


def _stored(storage: Path) -> int:
    return sum(p.stat().st_size for p in storage.rglob("*") if p.is_file())


def _push(experiment: str, target: str, storage: Path) -> dict[str, Any]:
    before = _stored(storage)
    seconds, done = afenv_cli("push", experiment, "--registry", target, "--force", "--json")
    result = json.loads(done.stdout)
    return {
        "pinned": {image["role"]: image["pinned"] for image in result["images"]},
        "experiment": experiment,
        "seconds": round(seconds, 1),
        "layers_sent": sum(i["uploaded"] for i in result["images"]),
        "layers_reused": sum(i["reused"] for i in result["images"]),
        "layer_bytes_sent": sum(i["uploaded_bytes"] for i in result["images"]),
        "registry_bytes_added": _stored(storage) - before,
    }


def _profiles(out: Path, pushed: dict[str, dict[str, str]]) -> dict[str, float]:
    """Generating and checking the profiles of the pairs just pushed (through afenv's own
    functions, so that the project's other recorded pushes do not matter)."""
    from afenv.hub.pairs import Pair
    from afenv.hub.profiles import ProfileOptions, write_profiles
    from afenv.spec import load_project
    from afenv.testing.chart import check_values  # what the tests check, timed here

    project = load_project(ROOT)
    pairs = [
        Pair(
            experiment=name,
            title=project.experiments[name].title,
            description=project.experiments[name].description,
            singleuser=images["singleuser"],
            worker=images["worker"],
            validated=None,
            versions={},
            cvmfs=tuple(project.experiments[name].cvmfs),
            resources=project.experiments[name].resources,
        )
        for name, images in pushed.items()
    ]
    options = ProfileOptions(include_unvalidated=True)
    timings: dict[str, float] = {}
    for spawner in ("kubernetes", "docker"):
        started = time.perf_counter()
        write_profiles(pairs, options, out / spawner, spawner)  # type: ignore[arg-type]
        timings[f"generate_{spawner}_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    check_values(out / "kubernetes" / "z2jh-values.yaml")  # raises on a schema violation
    timings["schema_check_s"] = round(time.perf_counter() - started, 3)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second", default="fcc", help="the second experiment pushed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="afenv-bench-push-") as scratch:
        folder = Path(scratch)
        storage = folder / "storage"
        storage.mkdir()
        # The registry is gone after the run: so are its tags and the pushes state recorded.
        with registry.serve(
            folder, host="127.0.0.1", storage=storage, state_dir=ROOT / ".afenv"
        ) as served:
            target = f"{served.address}/bench"
            pushes = [_push(name, target, storage) for name in ("cms", args.second)]
        result: dict[str, Any] = {"machine": machine(), "pushes": pushes}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "push.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )  # kept if next fails
        profiles = _profiles(folder / "profiles", {p["experiment"]: p["pinned"] for p in pushes})
    result["profiles"] = profiles
    (RESULTS / "push.json").write_text(json.dumps(result, indent=2) + "\n")
    print(machine_line(result))
    print("| pair | push [s] | layers sent / reused | layer MB sent | MB stored |")
    print("|---|---:|---:|---:|---:|")
    for push in pushes:
        print(
            f"| {push['experiment']} | {push['seconds']} | {push['layers_sent']} / "
            f"{push['layers_reused']} | {push['layer_bytes_sent'] / 1e6:.0f} | "
            f"{push['registry_bytes_added'] / 1e6:.0f} |"
        )
    print(", ".join(f"{name} {value}" for name, value in profiles.items()))


if __name__ == "__main__":
    main()
