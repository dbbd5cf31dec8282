"""`bodega serve`: the HTTP API and the web panel, with agent processes running the tasks they queue."""
from __future__ import annotations

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option


@click.command("serve", epilog=exit_status(errors.MissingDependency, errors.InvalidInput, errors.CatalogueError))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(0, 65535), help="The TCP port.")
@click.option("--agents", default=2, show_default=True, type=click.IntRange(0, 32),
              help="Agent processes started to run tasks, one at a time each, at background priority "
                   "(0: leave them to `bodega agent`).")
@click.option("--secure-cookies", is_flag=True,
              help="Mark session cookies Secure (when a TLS reverse proxy serves the panel over HTTPS).")
@home_option
def serve(host: str, port: int, agents: int, secure_cookies: bool, home: str | None) -> None:
    """Serve the JSON API (/api/, OpenAPI at /openapi.json) and the web panel (/).

    Users sign in with their email and password (and a TOTP code once enrolled); scripts
    send `Authorization: Bearer TOKEN` (see `bodega token create`).  The panel speaks plain
    HTTP: outside loopback, put a TLS reverse proxy in front and pass --secure-cookies.

    \b
    Example:
      bodega user passwd "$(whoami)@localhost"    # the machine's owner, to sign in
      bodega serve --port 8470                    # then open http://127.0.0.1:8470/
    """
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise errors.MissingDependency(
            f"bodega serve needs the serve extra ({e.name} is missing): pip install 'bodega[serve]'") from None
    from bodega.api.server import Server

    server = Server(home, host=host, port=port, agents=agents, secure_cookies=secure_cookies)
    click.echo(f"bodega: serving {server.home.root} on http://{server.host}:{server.port}/ (Ctrl-C stops)", err=True)
    server.run()


COMMANDS = [serve]
