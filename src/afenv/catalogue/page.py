"""The catalogue page: cards rendered by Jinja2 with autoescaping (titles and descriptions are
the spec's free text), plots and reports copied next to it. No script: a static page."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from afenv import __version__
from afenv.catalogue.cards import Card

__all__ = ["PAGE", "write_catalogue"]

PAGE = "index.html"
_TEMPLATE = "catalogue.html.j2"


def _size(size: int | None) -> str:
    return "not in this engine" if size is None else f"{size / 1e9:.2f} GB"


def _card_data(card: Card, out: Path) -> dict[str, Any]:
    """Plain data for the template; the card's report files copied under ``out/<exp>/``."""
    folder = out / card.experiment
    links, plot = [], None
    for label, source in card.files():
        if not source.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        shutil.copyfile(source, target)
        href = f"{card.experiment}/{source.name}"
        if source.suffix == ".png" and plot is None:
            plot = href
        links.append({"label": label, "href": href})
    return {
        "experiment": card.experiment,
        "title": card.title,
        "description": card.description,
        "status": card.status,
        "promoted": card.promoted,
        "when": card.when,
        "versions": dict(card.versions),
        "images": [
            {"role": i.role, "tag": i.tag, "pushed": list(i.pushed), "size": _size(i.size)}
            for i in card.images
        ],
        "previous": card.previous,
        "changes": list(card.changes),
        "dask_changes": list(card.dask_changes),
        "lock_pair": card.lock_pair,
        "plot": plot,
        "links": links,
    }


def write_catalogue(cards: Sequence[Card], out: Path, *, project: str) -> Path:
    """Write ``out/index.html`` (and each card's files); returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("afenv.catalogue"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    html = environment.get_template(_TEMPLATE).render(
        cards=[_card_data(card, out) for card in cards],
        project=project,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        afenv_version=__version__,
    )
    page = out / PAGE
    page.write_text(html, encoding="utf-8")
    return page
