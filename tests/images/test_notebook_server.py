"""The notebook image as users of Jupyter's own images expect it: any uid with gid 100, a home
that may be mounted and not writable, IPv4 and IPv6, a health status, deletes that do not fill a
trash, and the ROOT C++ kernel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import LABELS, notebook, run

pytestmark = pytest.mark.docker

HEALTHY_WITHIN_S = 120

# Inside the container: the server's API over IPv4 and IPv6, then create and delete a file
# through the contents API and look for a trash.
_PROBE = r"""
import json, os, sys, urllib.error, urllib.request
from pathlib import Path
from jupyter_core.paths import jupyter_runtime_dir
files = [*Path(jupyter_runtime_dir()).glob("jpserver-*.json"),
         *Path(f"/tmp/jupyter-runtime-{os.getuid()}").glob("jpserver-*.json")]
server = json.loads(files[0].read_text())
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, url, body=None):
    request = urllib.request.Request(url, method=method, data=body,
        headers={"Authorization": f"token {server['token']}", "Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
port = server["port"]
result = {name: call("GET", f"http://{host}:{port}/api")
          for name, host in (("ipv4", "127.0.0.1"), ("ipv6", "[::1]"))}
base = f"http://127.0.0.1:{port}/api/contents/afenv-probe.txt"
created = json.dumps({"type": "file", "format": "text", "content": "x"}).encode()
result["put"] = call("PUT", base, created)
result["delete"] = call("DELETE", base) if result["put"] == 201 else None
result["trash"] = sorted(str(p) for p in Path.home().glob(".local/share/Trash/files/*"))
result["runtime"] = str(files[0].parent)
print(json.dumps(result))
"""


@contextmanager
def _server(client: docker.DockerClient, image: str, **options: Any) -> Iterator[Any]:
    container = client.containers.run(image, detach=True, labels=LABELS, **options)
    try:
        yield container
    finally:
        container.remove(force=True)


def _wait_healthy(container: Any) -> str:
    """Poll the engine's health status (a condition, not a delay) until healthy or the limit."""
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    status = "starting"
    while time.monotonic() < deadline:
        container.reload()
        status = container.attrs["State"].get("Health", {}).get("Status", "none")
        if status == "healthy" or container.status == "exited":
            break
        time.sleep(0.5)
    return status


@pytest.mark.parametrize(
    ("user", "home"),
    [("1000:100", "image"), ("1010:100", "image"), ("1010:100", "mounted-root-owned")],
)
def test_server_answers_under_any_uid_on_ipv4_and_ipv6(
    client: docker.DockerClient, cms_images: dict[str, Any], tmp_path: Path, user: str, home: str
) -> None:
    # Docker gives a container no IPv6 loopback unless asked: this one gets ::1.
    options: dict[str, Any] = {"user": user, "sysctls": {"net.ipv6.conf.all.disable_ipv6": 0}}
    if home != "image":
        empty = tmp_path / "home"
        empty.mkdir(mode=0o755)  # root's, as a fresh host directory or volume often is
        options["volumes"] = {str(empty): {"bind": "/home/jovyan", "mode": "rw"}}
    with _server(client, cms_images["singleuser"]["reference"], **options) as server:
        status = _wait_healthy(server)
        logs = server.logs().decode(errors="replace")
        assert status == "healthy", logs[-3000:]
        probe = server.exec_run(["python3", "-c", _PROBE], user=user)
        assert probe.exit_code == 0, probe.output.decode()[-3000:]
    result = json.loads(probe.output.decode().strip().splitlines()[-1])
    assert (result["ipv4"], result["ipv6"]) == (200, 200)
    assert result["trash"] == []
    if home == "image":
        assert (result["put"], result["delete"]) == (201, 204)
        assert result["runtime"] == "/home/jovyan/.local/share/jupyter/runtime"
        assert "PermissionError" not in logs
    else:  # the server runs and says why files cannot be saved there
        assert result["put"] == 403
        assert result["runtime"] == f"/tmp/jupyter-runtime-{user.split(':')[0]}"
        assert "is not writable by uid 1010" in logs


def test_a_cpp_cell_runs_in_the_root_kernel(
    client: docker.DockerClient, cms_images: dict[str, Any]
) -> None:
    cpp = notebook(
        ["int answer = 6 * 7;\nstd::cout << answer << std::endl;"], kernel="root", language="c++"
    )
    script = (
        f"cat > /tmp/cpp.ipynb <<'EOF'\n{json.dumps(cpp)}\nEOF\n"
        "python3 -m afenv_runtime.notebooks /tmp/cpp.ipynb --out /tmp/cpp"
        " && python3 -c \"import json; nb = json.load(open('/tmp/cpp/cpp.ipynb'));"
        " print(repr(nb['cells'][0]['outputs']))\""
    )
    with _server(client, cms_images["singleuser"]["reference"], command=["sh", "-c", script]) as c:
        code = c.wait(timeout=300)["StatusCode"]
        output = c.logs().decode(errors="replace")
    assert code == 0, output[-3000:]
    assert "'42\\n'" in output, output[-3000:]


def test_canvases_display_inline_and_with_jsroot(
    client: docker.DockerClient, cms_images: dict[str, Any]
) -> None:
    """JupyROOT in the python3 kernel: a drawn canvas is a PNG in the cell's output, and after
    ``%jsroot on`` an interactive JSROOT HTML view."""
    draw = (
        "import ROOT\nc = ROOT.TCanvas('c', '', 400, 300)\nh = ROOT.TH1F('h', '', 20, -3, 3)\n"
        "h.FillRandom('gaus', 1000)\nh.Draw()\nc.Draw()"
    )
    drawing = notebook([draw, "%jsroot on\nc.Draw()"])
    script = (
        f"cat > /tmp/draw.ipynb <<'EOF'\n{json.dumps(drawing)}\nEOF\n"
        "python3 -m afenv_runtime.notebooks /tmp/draw.ipynb --out /tmp/draw"
        " && cat /tmp/draw/draw.ipynb"
    )
    with _server(client, cms_images["singleuser"]["reference"], command=["sh", "-c", script]) as c:
        code = c.wait(timeout=300)["StatusCode"]
        output = c.logs(stderr=False).decode(errors="replace")
    assert code == 0, output[-3000:]
    executed = json.loads(output[output.index("\n{\n") + 1 :])  # after the runner's line
    first, second = (cell["outputs"] for cell in executed["cells"])
    kinds = [set(o.get("data", {})) for o in first if o["output_type"] == "display_data"]
    assert any("image/png" in k for k in kinds), first
    html = "".join(
        "".join(o["data"]["text/html"]) for o in second if "text/html" in o.get("data", {})
    )
    assert "JSROOT" in html, second


_EXPORT = r"""
import nbformat, subprocess
cells = [nbformat.v4.new_markdown_cell("# Ds mass\n\nA *fit* of the `D_s` peak.")]
nbformat.write(nbformat.v4.new_notebook(cells=cells), "/tmp/x.ipynb")
for to in ("latex", "rst", "asciidoc"):
    subprocess.run(["jupyter", "nbconvert", "--to", to, "/tmp/x.ipynb"], check=True)
"""


def test_exports_convert_markdown_with_pandoc(
    client: docker.DockerClient, cms_images: dict[str, Any]
) -> None:
    """JupyterLab's and nbconvert's exports to LaTeX, reST and AsciiDoc need pandoc for the
    Markdown cells (PandocMissing without it): the singleuser image has it, the worker does
    not carry it."""
    script = (
        f"python3 -c '{_EXPORT}' 2>&1 && cat /tmp/x.tex && echo --- && cat /tmp/x.rst"
        " && echo --- && cat /tmp/x.asciidoc"
    )
    done = run(client, cms_images["singleuser"]["reference"], ["sh", "-c", script])
    assert done.exit_code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latex, rst, asciidoc = done.stdout.split("---")
    for converted, expected in (
        (latex, ("\\section{Ds mass}", "\\emph{fit}")),
        (rst, ("Ds mass\n=======", "*fit*")),
        (asciidoc, ("= Ds mass", "_fit_")),
    ):
        assert all(piece in converted for piece in expected), converted[-2000:]
    worker = run(client, cms_images["worker"]["reference"], ["dpkg-query", "-W", "pandoc"])
    assert worker.exit_code != 0
    assert "no packages found matching pandoc" in worker.stderr
