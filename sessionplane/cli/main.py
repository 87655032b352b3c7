"""The ``sessionplane`` command: serve the API, manage the inventory and identities, run the demo."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from sessionplane.app import create_app
from sessionplane.cli import discovery, identity, inventory, sessions
from sessionplane.cli.context import DatabaseUrl, DataDir, console, err_console, load_settings, run
from sessionplane.services import Services

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(inventory.projects, name="project")
app.add_typer(inventory.users, name="user")
discovery.register(inventory.instances)
app.add_typer(inventory.instances, name="instance")
app.add_typer(sessions.app, name="sessions")
app.add_typer(identity.groups, name="group")
app.add_typer(identity.policies, name="policy")
app.add_typer(identity.access_keys, name="ak")
app.add_typer(identity.audit, name="audit")
keys = typer.Typer(help="The keyring that encrypts secrets at rest and signs tokens.", no_args_is_help=True)
app.add_typer(keys, name="keys")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env SESSIONPLANE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env SESSIONPLANE_PORT)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the API. Settings come from flags, SESSIONPLANE_* variables, and the TOML file in SESSIONPLANE_CONFIG."""
    settings = load_settings(data_dir, database_url, host=host, port=port)
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


@keys.command("rotate")
def rotate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Put a new master key first and re-encrypt stored secrets under it; older tokens stay valid."""
    from sessionplane.keyring import Keyring

    settings = load_settings(data_dir, database_url)
    Keyring.rotate_file(settings.resolved_keyring_file)

    async def reencrypt(s: Services) -> int:
        return await s.inventory.reencrypt_secrets() + await s.iam.reencrypt_secrets()

    count = run(settings, reencrypt)
    console.print(f"rotated; re-encrypted {count} secrets")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="API port")] = 8600,
    nodes: Annotated[int, typer.Option(help="How many local redis-server nodes", min=1, max=64)] = 3,
    state_file: Annotated[
        str | None, typer.Option("--state-file", help="Write endpoint and credentials as JSON")
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
) -> None:
    """Start local redis-server nodes, register them as an instance, and serve the API over them."""
    from sessionplane.demo.run import DemoError, run_demo

    configure_logging("WARNING")
    try:
        run_demo(host=host, port=port, node_count=nodes, state_file=state_file)
    except DemoError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
