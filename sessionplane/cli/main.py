"""The sessionplane command: serve the API, manage the inventory and identities, run the demo."""

from __future__ import annotations

import logging
from importlib.metadata import version as installed_version
from typing import Annotated

import typer
import uvicorn

from sessionplane.cli import audit, discovery, fleet, history, identity, inventory, policies, rules, sessions
from sessionplane.cli.context import DatabaseUrl, DataDir, console, err_console, load_settings, run
from sessionplane.db import is_sqlite
from sessionplane.keyring import Keyring
from sessionplane.services import Services
from sessionplane.settings import Settings

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(inventory.projects, name="project")
app.add_typer(inventory.users, name="user")
discovery.register(inventory.instances)
app.add_typer(inventory.instances, name="instance")
fleet.register(sessions.app)
history.register(sessions.app)
app.add_typer(sessions.app, name="sessions")
app.add_typer(identity.groups, name="group")
app.add_typer(policies.policies, name="policy")
app.add_typer(identity.access_keys, name="ak")
app.add_typer(audit.audit, name="audit")
app.add_typer(rules.app, name="rules")
keys = typer.Typer(help="The keyring that encrypts secrets at rest and signs tokens.", no_args_is_help=True)
app.add_typer(keys, name="keys")


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"sessionplane {installed_version('sessionplane')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = None,
) -> None:
    """The sessionplane command: serve the API, manage the inventory and identities, run the demo."""


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env SESSIONPLANE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env SESSIONPLANE_PORT)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=256, help="Worker processes on this machine (above 1: PostgreSQL only)")
    ] = 1,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the API. Settings come from flags, SESSIONPLANE_* variables, and the TOML file in SESSIONPLANE_CONFIG."""
    from sessionplane.app import create_app  # the web stack only where it serves: other commands start faster
    from sessionplane.server import server_config, settled

    settings = load_settings(data_dir, database_url, host=host, port=port)
    configure_logging(settings.log_level)
    if workers > 1:
        _serve_workers(settings, workers)
        return
    try:
        application = settled(create_app(settings))
    except (OSError, ValueError) as exc:  # the data directory or the keyring cannot be used as they are
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    server = uvicorn.Server(server_config(application, settings))
    server.run()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run does when the server cannot start


def _serve_workers(settings: Settings, workers: int) -> None:
    from sessionplane.server import serve_workers

    if is_sqlite(settings.resolved_database_url):
        err_console.print(
            f"error: --workers {workers} needs a PostgreSQL store (--database-url); SQLite serves one process",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)

    async def ready(_services: Services) -> None:
        """Nothing: building and starting the services once creates the keyring and migrates the store."""

    # Before any worker starts: every worker then signs tokens with the same key, and none migrates.
    run(settings, ready)
    serve_workers(settings, workers=workers)


@keys.command("rotate")
def rotate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Put a new master key first and re-encrypt stored secrets under it; older tokens stay valid.

    The keyring file is replaced atomically (a crash leaves the old one or the new one); running
    servers pick the new key up by themselves.
    """
    settings = load_settings(data_dir, database_url)
    try:
        Keyring.rotate_file(settings.resolved_keyring_file)
    except (OSError, ValueError) as exc:
        err_console.print(f"error: the keyring was not rotated ({exc}); it is unchanged", markup=False)
        raise typer.Exit(1) from None

    async def reencrypt(s: Services) -> int:
        return await s.inventory.reencrypt_secrets() + await s.iam.reencrypt_secrets()

    count = run(settings, reencrypt)
    console.print(f"rotated; re-encrypted {count} secrets")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="API port")] = 8600,
    nodes: Annotated[int, typer.Option(help="How many local redis-server nodes", min=1, max=64)] = 3,
    state_file: Annotated[
        str | None, typer.Option("--state-file", help="Write endpoint and credentials as JSON (mode 0600)")
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
) -> None:
    """Start local redis-server nodes, register them as an instance, and serve the API over them."""
    from sessionplane.demo.run import DemoError, run_demo

    configure_logging("WARNING")
    try:
        run_demo(host=host, port=port, node_count=nodes, state_file=state_file)
    except DemoError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
