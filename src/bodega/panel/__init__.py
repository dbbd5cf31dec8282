"""The web panel: server-rendered pages (Jinja2) over the same services as the API, and a small script for live progress."""
