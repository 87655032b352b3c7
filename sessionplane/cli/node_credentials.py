"""Node addresses and passwords on the command line, without putting passwords in argv.

A password in ``--node redis://user:pass@host:port`` is visible to every local user (``ps``,
``/proc/*/cmdline``), so it is still accepted but warned about. The other ways keep it out: the
first line of stdin, a file only its owner can read, a prompt, or SESSIONPLANE_NODE_PASSWORD.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

import typer

from sessionplane.cli.context import err_console
from sessionplane.inventory.records import NodeSpec

NodeUser = Annotated[
    str | None, typer.Option("--node-user", help="ACL user to connect to the nodes as (a URL's own user wins)")
]
PasswordStdin = Annotated[
    bool, typer.Option("--node-password-stdin", help="Read the nodes' password from the first line of stdin")
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--node-password-file",
        help="Read the nodes' password from this file; it must be readable by its owner only (chmod 600)",
        exists=True,
        dir_okay=False,
    ),
]
PasswordPrompt = Annotated[
    bool, typer.Option("--node-password-prompt", help="Ask for the nodes' password (typed without echo)")
]


def node_password(*, from_stdin: bool, file: Path | None, prompt: bool) -> str | None:
    """The password given by one of the three options, or None when none was used."""
    if from_stdin + (file is not None) + prompt > 1:
        raise typer.BadParameter("give only one of --node-password-stdin, --node-password-file, --node-password-prompt")
    if from_stdin:
        return _non_empty(sys.stdin.readline().rstrip("\r\n"), "stdin")
    if file is not None:
        return _non_empty(_read_private_file(file), str(file))
    if prompt:
        return _non_empty(typer.prompt("node password", hide_input=True, confirmation_prompt=True), "the prompt")
    return None


def _read_private_file(path: Path) -> str:
    info = path.stat()
    if info.st_mode & 0o077:
        raise typer.BadParameter(
            f"{path} is readable by others (mode {oct(stat.S_IMODE(info.st_mode))[2:]}): chmod 600 {path}",
            param_hint="--node-password-file",
        )
    lines = path.read_text().splitlines()
    if len(lines) != 1:
        raise typer.BadParameter(f"{path} must hold the password on one line", param_hint="--node-password-file")
    return lines[0]


def _non_empty(password: str, source: str) -> str:
    if not password:
        raise typer.BadParameter(f"the password from {source} is empty")
    return password


def parse_node(text: str, *, username: str | None = None, password: str | None = None) -> NodeSpec:
    """``host:port``, or a URL ``redis://[user[:password]@]host:port`` (``rediss://`` for TLS).

    What the URL says wins; otherwise ``username``, then ``password`` or SESSIONPLANE_NODE_PASSWORD.
    """
    url = urlsplit(text if "://" in text else f"redis://{text}")
    if url.scheme not in ("redis", "rediss") or not url.hostname or not url.port:
        raise typer.BadParameter(
            f"node {text.split('@')[-1]!r}: expected host:port or redis://[user:password@]host:port"
        )
    if url.password:
        err_console.print(
            f"warning: the password of node {url.hostname}:{url.port} is on the command line, where every local "
            "user can read it; prefer --node-password-stdin, --node-password-file or --node-password-prompt"
        )
    return NodeSpec(
        host=url.hostname,
        port=url.port,
        username=unquote(url.username) if url.username else username,
        password=unquote(url.password) if url.password else password or os.environ.get("SESSIONPLANE_NODE_PASSWORD"),
        tls=url.scheme == "rediss",
    )
