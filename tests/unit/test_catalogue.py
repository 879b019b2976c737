"""The catalogue page from cards, without an engine: every card, its files copied beside the
page and linked, the spec's free text escaped."""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest

from afenv.catalogue import Card, ImageCard, write_catalogue
from afenv.catalogue.cards import _previous
from afenv.errors import ConfigError
from afenv.spec import load_project


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.cards.append(values)
        elif tag == "a":
            self.links.append(str(values["href"]))
        elif tag == "img":
            self.images.append(str(values["src"]))
        elif tag == "script":
            self.scripts += 1


def _card(name: str, report: Path | None, **changes: object) -> Card:
    fields: dict[str, object] = {
        "experiment": name,
        "title": name.upper(),
        "description": f"{name} environment",
        "status": "validated" if report else "not built",
        "promoted": report is not None,
        "when": "2026-12-02T01:00:00+00:00" if report else None,
        "versions": {"root": "6.40.00", "python": "3.13.5", "dask": "2026.8.0"} if report else {},
        "images": (
            ImageCard(role="worker", tag=f"afenv/{name}-worker:1", pushed=(), size=1_960_000_000),
        ),
        "report": report,
        "previous": None,
        "changes": (),
        "dask_changes": (),
        "lock_pair": None,
    }
    return Card(**(fields | changes))  # type: ignore[arg-type]


def test_every_card_with_its_files_and_escaped_text(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "cms" / "abc"
    (report / "benchmark" / "local").mkdir(parents=True)
    (report / "benchmark" / "local" / "mass_fit.png").write_bytes(b"\x89PNG")
    (report / "summary.json").write_text("{}")
    cards = [
        _card("cms", report, title='<script>alert("x")</script>'),
        _card("fcc", None),
    ]
    page = write_catalogue(cards, tmp_path / "out", project="test-af")
    parser = _Page()
    parser.feed(page.read_text())
    assert [card["data-experiment"] for card in parser.cards] == ["cms", "fcc"]
    assert [card["data-status"] for card in parser.cards] == ["validated", "not built"]
    assert parser.scripts == 0  # the title is text, not a tag
    assert "&lt;script&gt;" in page.read_text()
    # Only the files the validation left are copied and linked; the plot is shown.
    assert parser.links == ["cms/mass_fit.png", "cms/summary.json"]
    assert parser.images == ["cms/mass_fit.png"]
    assert (tmp_path / "out" / "cms" / "mass_fit.png").read_bytes() == b"\x89PNG"
    assert "1.96 GB" in page.read_text()


def test_a_damaged_previous_pair_is_named(project_copy: Path) -> None:
    project = load_project(project_copy)
    pair = ["afenv/cms-worker:1", "afenv/cms-singleuser:1"]
    assert _previous(project, {"previous": {"cms": pair}}, "cms") == tuple(pair)
    assert _previous(project, {}, "cms") is None
    with pytest.raises(ConfigError, match=r"previous\['cms'\] is not \[worker, singleuser\]"):
        _previous(project, {"previous": {"cms": {"worker": "x"}}}, "cms")
