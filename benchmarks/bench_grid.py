"""What grid access costs in the built cms pair: root:// with GSI against local paths, per mode,
and the time ``ship_proxy`` takes for 2 and 6 workers.

    .venv/bin/python benchmarks/bench_grid.py [--events 400000] [--files 4] [--repeats 3]

Everything is real and runs in containers, as ``tests/images/test_grid_xrootd.py`` sets it up:
a test CA, a user proxy (xrdgsiproxy), a fake CVMFS grid tree bound at /cvmfs, and a GSI-only
XRootD storage container on the cluster's network. Each mode reads the same files as local
paths (the cluster's data volume) and as ``root://`` URLs of the storage, alternating within
each repeat; dask mode runs from the client over the 2 workers, local and legacy in worker 1.
The network is the engine's bridge on one host: the ratio is the protocol's and GSI's cost,
not a facility network's. Writes ``benchmarks/results/grid.json`` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ds import machine, machine_line

from afenv.benchmark import generate, run_mode
from afenv.cluster import DATA, SCHEDULER_ADDRESS, Cluster, start_cluster, worker_command
from afenv.engine import Engine
from afenv.options import GridOptions
from afenv.spec import BenchmarkSpec
from afenv.testing import credentials, gsi

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("dask", "local", "legacy")
SOURCES = ("path", "root://")
SHIPS = 5  # ship_proxy calls timed per cluster size

# In the client container: time ship_proxy on a cluster of N workers (the preload is off).
_TIME_SHIP = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore", message=".*alpha stage.*", category=UserWarning)
from distributed import Client
from afenv_runtime.grid import ship_proxy
client = Client(sys.argv[1], timeout=60)
client.wait_for_workers(int(sys.argv[2]), timeout=300)
times = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    ship_proxy(client)
    times.append(time.perf_counter() - started)
print(json.dumps({"workers": len(client.scheduler_info()["workers"]), "seconds": times}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--from-json", action="store_true", help="only re-render the tables")
    args = parser.parse_args()
    if not args.from_json:
        spec = BenchmarkSpec(events=args.events, files=args.files, seed=2026)
        with tempfile.TemporaryDirectory(prefix="afenv-bench-grid-") as scratch:
            results = measure(Path(scratch), spec, args.repeats)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "grid.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(json.loads((RESULTS / "grid.json").read_text())))
    return 0


def _pair() -> dict[str, str]:
    build = ["build", "cms", "--no-validate", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), *build],
        check=True,
        capture_output=True,
        text=True,
    )
    return {i["role"]: i["reference"] for i in json.loads(done.stdout)["images"]}


def _time_ship(cluster: Cluster, workers: int) -> dict[str, Any]:
    command = f"AFENV_SHIP_PROXY=0 python3 -c {shlex.quote(_TIME_SHIP)} {SCHEDULER_ADDRESS}"
    command += f" {workers} {SHIPS}"
    done = cluster.notebook.exec(["sh", "-c", command], timeout=600)
    if done.exit_code != 0:
        raise RuntimeError(done.stderr[-3000:])
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    assert timed["workers"] == workers, timed
    return {"workers": workers, "median_s": statistics.median(timed["seconds"]), **timed}


def measure(work: Path, spec: BenchmarkSpec, repeats: int) -> dict[str, Any]:
    pair = _pair()
    client = docker.from_env(timeout=600)
    creds = credentials.make(work / "creds")
    cvmfs = credentials.fake_cvmfs(work / "cvmfs", creds, ROOT / "images" / "cms" / "grid")
    image = _storage_image(client, pair["worker"])
    runs: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SOURCES} for m in MODES}
    try:
        with start_cluster(
            Engine(client),
            worker_image=pair["worker"],
            singleuser_image=pair["singleuser"],
            workers=2,
            logs=work / "logs",
            purpose="bench",
            grid=GridOptions(cvmfs=cvmfs),
        ) as cluster:
            host = cluster.run.name("storage")
            generated = generate(cluster, pair["worker"], spec)
            if generated.exit_code != 0:
                raise RuntimeError(generated.stderr[-2000:])
            gsi.start_storage(cluster, image, gsi.server_files(work / "storage", creds, host))
            proxy = creds.proxy.read_bytes()
            # The user's proxy where voms-proxy-init leaves it: in the client (dask mode's
            # preload ships it), and in worker 1 for the modes that run there.
            for container in (cluster.notebook, cluster.workers[0]):
                container.put_file("/tmp", "x509up_u1000", proxy, mode=0o600, owner=1000)
            ships = [_time_ship(cluster, 2)]
            inputs = {
                "path": [f"{DATA}/ds/ds_{i:03d}.root" for i in range(spec.files)],
                "root://": [
                    f"root://{host}:{gsi.PORT}/{DATA}/ds/ds_{i:03d}.root" for i in range(spec.files)
                ],
            }
            cutflows = set()
            for repeat in range(repeats):
                for mode in MODES:
                    container = cluster.notebook if mode == "dask" else cluster.workers[0]
                    for source in SOURCES:
                        out = work / f"{mode}-{source[:4]}-{repeat}"
                        outcome = run_mode(container, mode, out, inputs[source])
                        if outcome.report is None:
                            raise RuntimeError(f"{mode} over {source}: {outcome.problem}")
                        runs[mode][source].append(outcome.report["timing"]["wall_s"])
                        cutflows.add(json.dumps(outcome.report["cutflow"], sort_keys=True))
            assert len(cutflows) == 1, "modes or sources disagree on the cutflow"
            for index in range(3, 7):
                cluster.start(pair["worker"], f"worker-{index}", worker_command(index))
            ships.append(_time_ship(cluster, 6))
    finally:
        client.images.remove(image, force=True)
    modes = {
        mode: {
            source: {"wall_s": statistics.median(times), "wall_s_runs": times}
            for source, times in by_source.items()
        }
        for mode, by_source in runs.items()
    }
    for mode in modes.values():
        mode["ratio"] = mode["root://"]["wall_s"] / mode["path"]["wall_s"]
    return {
        "machine": machine(),
        "spec": vars(spec),
        "repeats": repeats,
        "modes": modes,
        "ship_proxy": ships,
    }


def _storage_image(client: docker.DockerClient, worker: str) -> str:
    import io
    import tarfile

    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = gsi.storage_dockerfile(worker).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = client.images.build(
        fileobj=context, custom_context=True, labels={"io.afenv.test-image": "true"}, rm=True
    )
    return str(image.id)


def markdown(results: dict[str, Any]) -> str:
    spec = results["spec"]
    lines = [
        f"Ds benchmark, {spec['events']:,} events in {spec['files']} files, medians of "
        f"{results['repeats']}; {machine_line(results)}",
        "",
        "| mode | local paths | root:// with GSI | ratio |",
        "|---|---:|---:|---:|",
    ]
    for mode, row in results["modes"].items():
        lines.append(
            f"| {mode} | {row['path']['wall_s']:.2f} s | {row['root://']['wall_s']:.2f} s |"
            f" {row['ratio']:.2f} |"
        )
    lines += ["", "| workers | ship_proxy (median of 5) | all calls |", "|---:|---:|---|"]
    for ship in results["ship_proxy"]:
        calls = ", ".join(f"{s * 1000:.0f}" for s in ship["seconds"])
        lines.append(f"| {ship['workers']} | {ship['median_s'] * 1000:.0f} ms | {calls} ms |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
