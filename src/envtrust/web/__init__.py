"""Server-rendered pages (Jinja2 templates, static files, plotly.js from its wheel) over the store and services."""

from .pages import OFFLINE_AFTER_S, install_pages

__all__ = ["OFFLINE_AFTER_S", "install_pages"]
