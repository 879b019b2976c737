"""`afenv report`: the image catalogue, one static HTML page with a card per experiment pair.

``cards.py`` gathers each card's data (state, engine, validation reports) into frozen records;
``page.py`` renders them (Jinja2, autoescaped) and copies each card's plot and reports beside
the page, so the folder is whole on its own (a CI artifact, a web server's directory)."""

from afenv.catalogue.cards import Card, ImageCard, collect_cards
from afenv.catalogue.page import write_catalogue

__all__ = ["Card", "ImageCard", "collect_cards", "write_catalogue"]
