"""`afenv report`: the image catalogue as an admin opens it, in headless Chromium (Debian's).

Every experiment of the project has its card; the validated cms pair's card shows its tags,
versions and sizes as the state and the engine have them, its benchmark plot loads, every link
resolves, and the browser reports no error. A new pair's validation prints the diff against
the promoted pair before it moves the tags, records the pair it replaces, and the card shows
the diff `afenv diff` prints for those two images.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.spec import load_project

from .conftest import ROOT, afenv

pytestmark = pytest.mark.docker

CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/setup.sh)
ARTIFACTS = ROOT / "reports" / "test-artifacts" / "catalogue"


def _open(page_path: Path, screenshot: Path) -> dict[str, Any]:
    """Load the page; return what the browser saw: cards, images, links, problems."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
            page.goto(page_path.as_uri(), wait_until="load")
            seen = page.evaluate(
                """() => ({
                  cards: [...document.querySelectorAll("section.card")].map(card => ({
                    experiment: card.dataset.experiment,
                    status: card.dataset.status,
                    title: card.querySelector("h2").innerText,
                    text: card.innerText,
                    root: card.querySelector(".version-root").innerText,
                    python: card.querySelector(".version-python").innerText,
                    dask: card.querySelector(".version-dask").innerText,
                    plots: [...card.querySelectorAll("img.plot")].map(i => i.naturalWidth),
                    links: [...card.querySelectorAll("a")].map(a => a.getAttribute("href")),
                  })),
                })"""
            )
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    return seen | {"problems": problems}


def test_every_card_is_there_and_the_browser_sees_no_error(
    cms_validated: dict[str, Any], client: docker.DockerClient, tmp_path: Path
) -> None:
    out = tmp_path / "catalogue"
    result = afenv("report", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    page = Path(json.loads(result.stdout)["page"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = _open(page, ARTIFACTS / "catalogue.png")
    shutil.copytree(out, ARTIFACTS / "page", dirs_exist_ok=True)  # the page itself, for CI

    assert seen["problems"] == []
    project = load_project(ROOT)
    cards = {card["experiment"]: card for card in seen["cards"]}
    assert list(cards) == sorted(project.experiments)  # every experiment, by name
    for name, card in cards.items():
        assert card["title"].startswith(project.experiments[name].title)
    cms = cards["cms"]
    assert cms["status"] == "validated"
    state = json.loads((ROOT / ".afenv" / "state.json").read_text())
    worker, singleuser = state["promoted"]["cms"]
    versions = state["images"][singleuser]["validation"]["versions"]
    assert (cms["root"], cms["python"], cms["dask"]) == (
        versions["root"], versions["python"], versions["dask"],
    )  # fmt: skip
    assert cms_validated["versions"]["dask"]["client"] == versions["dask"]
    for reference in (worker, singleuser):
        size = client.images.get(reference).attrs["Size"]
        assert f"{reference} · {size / 1e9:.2f} GB" in cms["text"]
    assert cms["plots"]
    assert all(width > 0 for width in cms["plots"])
    assert len(cms["links"]) == 5
    for href in cms["links"]:
        assert (out / href).is_file(), href


def test_a_new_pair_is_diffed_before_promotion_and_on_its_card(
    cms_validated: dict[str, Any],  # noqa: ARG001 (a validated cms pair)
    fcc_validated: dict[str, str],  # noqa: ARG001 (and fcc's, promoted)
    project_copy: Path,
    tmp_path: Path,
) -> None:
    """A project whose promoted cms pair is another one (fcc's, which this engine has: many
    packages differ): validating cms prints what changes before the tags move, records the
    pair it replaces, and the card shows the same change as `afenv diff`."""
    state = json.loads((ROOT / ".afenv" / "state.json").read_text())
    old, new = state["promoted"]["fcc"], state["promoted"]["cms"]
    state["promoted"]["cms"] = old
    state["previous"] = {}
    (project_copy / ".afenv").mkdir()
    (project_copy / ".afenv" / "state.json").write_text(json.dumps(state))
    expected = afenv("diff", old[1], new[1], "--json")
    assert expected.returncode == 0, expected.stderr
    diffed = json.loads(expected.stdout)
    summary = ", ".join(f"{n} {kind}" for kind, n in diffed["counts"].items() if n)
    dask = [c for c in diffed["changes"] if c["name"] in ("dask", "distributed", "numpy")]

    validated = afenv("--project", str(project_copy), "validate", "cms")
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert f"singleuser: against the promoted {old[1]}: {summary}" in validated.stderr
    recorded = json.loads((project_copy / ".afenv" / "state.json").read_text())
    assert recorded["promoted"]["cms"] == new
    assert recorded["previous"]["cms"] == old

    out = tmp_path / "catalogue"
    result = afenv("--project", str(project_copy), "report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    seen = _open(out / "index.html", tmp_path / "catalogue.png")
    assert seen["problems"] == []
    (cms,) = [card for card in seen["cards"] if card["experiment"] == "cms"]
    assert f"singleuser: {summary}" in cms["text"]
    assert old[1] in cms["text"]
    for change in dask:  # Dask's compared packages, one by one, when they change
        assert f"{change['name']} {change['old'] or '-'} -> {change['new'] or '-'}" in cms["text"]
