"""``sessionplane demo``: local nodes, a registered instance, users and keys, sample sessions, the API.

The demo is the real service (``create_app`` under uvicorn, in this process) over local
``redis-server`` nodes. The API's port is taken first, before anything else is started, so a busy
port is one clear error with nothing to clean up. Everything else lives in temporary directories
that are removed on exit (Ctrl-C or SIGTERM), also when start-up fails.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import signal
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import redis
import uvicorn
from redis.client import PubSub

from sessionplane import admin
from sessionplane.app import create_app
from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.demo.instructions import print_instructions
from sessionplane.demo.leak import LeakingClient
from sessionplane.demo.servers import AclUser, LocalCluster, RedisServer
from sessionplane.iam.records import AccessKey
from sessionplane.iam.system_policies import READ_ONLY
from sessionplane.inventory.records import Instance, NodeSpec, Project, User
from sessionplane.nodes.grants import OWN_USER_RULES
from sessionplane.rules.model import Rule, parse_rule
from sessionplane.server import server_config, settled
from sessionplane.services import Services
from sessionplane.settings import Settings

DOMAIN = "demo"
SAMPLE_CLIENTS = ("orders-api", "orders-api", "billing-worker", "metrics-agent", "", "batch-export")
DEMO_RULE = {"name": "batch clients idle over 60 s", "match": {"name": ["batch-*"], "min_idle_seconds": 60}}


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoState:
    endpoint: str
    region: str
    project_id: str
    instance_id: str
    nodes: list[dict]
    user: dict
    readonly_user: dict
    ak: str
    sk: str
    data_dir: str
    rule_id: str = ""

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


# sessionplane's own ACL user on the demo's nodes, with exactly the rights the README lists (nodes.grants). Clients
# (the samples, redis-cli) use the default user.
OWN_USER_NAME = "sessionplane"


@dataclass(frozen=True)
class _Secrets:
    node_password: str
    admin_password: str
    reader_password: str
    own_user_password: str

    @property
    def own_user(self) -> AclUser:
        return AclUser(OWN_USER_NAME, self.own_user_password, OWN_USER_RULES)

    @classmethod
    def generate(cls) -> _Secrets:
        return cls(*(secrets.token_urlsafe(12) for _ in range(4)))


async def _seed(
    settings: Settings, cluster: LocalCluster, passwords: _Secrets
) -> tuple[Project, Instance, AccessKey, str]:
    s = Services.build(settings)
    await s.start()
    try:
        admin_user = await admin.add_user(
            s.inventory, domain=DOMAIN, name="demo-admin", password=passwords.admin_password, is_admin=True
        )
        reader = await admin.add_user(
            s.inventory, domain=DOMAIN, name="demo-reader", password=passwords.reader_password
        )
        project = await admin.add_project(s.inventory, domain=DOMAIN, name=settings.region)
        await s.iam.attach(
            account_id=admin_user.account_id,
            policy_name=READ_ONLY.name,
            principal_type="user",
            principal_id=reader.id,
            project_id=project.id,
        )
        specs = [
            NodeSpec(
                host=n.host,
                port=n.port,
                username=OWN_USER_NAME,
                password=passwords.own_user_password,
                name=f"proxy_{i + 1}",
            )
            for i, n in enumerate(cluster.servers)
        ]
        instance = await admin.adopt_instance(
            s.inventory,
            project_id=project.id,
            name="demo-cache",
            nodes=specs,
            mode="Cluster",
            tags={"env": "dev", "team": "payments"},
            enterprise_project_id="demo-ep",
            # every sessionplane process (server, CLI, replicas) logs in as this user: all ours, whoever opened it.
            # Protected by user only, as the README recommends: a protected name would make each close-all
            # list its nodes before it kills (README, "Give sessionplane its own ACL user").
            protected_users=[OWN_USER_NAME],
        )
        key = await s.iam.create_access_key(user_id=admin_user.id, description="demo")
        rule = await _demo_rule(s, admin_user, project, instance)
        return project, instance, key, rule.id
    finally:
        await s.close()


async def _demo_rule(s: Services, user: User, project: Project, instance: Instance) -> Rule:
    """A report rule, so that runs show up as soon as the demo serves (counts only; switch it to enforce)."""
    principal = Principal(
        user_id=user.id,
        user_name=user.name,
        account_id=user.account_id,
        account_name=DOMAIN,
        project_id=project.id,
        project_name=project.name,
        is_admin=True,
        method="token",
    )
    meta = RequestMeta(request_id=secrets.token_hex(16), principal=principal)
    return await s.rules.create(meta=meta, instance=instance, spec=parse_rule(DEMO_RULE, partial=False))


def _open_samples(servers: list[RedisServer]) -> list[redis.Redis | PubSub]:
    """A few named client sessions per node (and one pub/sub subscriber) so listing shows something."""
    clients: list[redis.Redis | PubSub] = []
    for server in servers:
        for name in SAMPLE_CLIENTS:
            client = server.client(client_name=name or None, single_connection_client=True)
            client.ping()
            clients.append(client)
        subscriber = server.client(client_name="events-listener").pubsub()
        subscriber.subscribe("orders.events")
        clients.append(subscriber)
    return clients


def _listen(host: str, port: int) -> socket.socket:
    """Own the API's port from the start (uvicorn serves on this very socket): no window for another taker."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise DemoError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        raise DemoError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another port with --port") from None
    return listener


class _DemoServer(uvicorn.Server):
    """uvicorn's server, printing the demo's instructions once it listens."""

    def __init__(self, config: uvicorn.Config, state: DemoState) -> None:
        super().__init__(config)
        self._state = state

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            print_instructions(self._state)


def run_demo(*, host: str, port: int, node_count: int, state_file: str | None) -> None:
    listener = _listen(host, port)
    data_dir = Path(tempfile.mkdtemp(prefix="sessionplane-demo-"))
    passwords = _Secrets.generate()
    samples: list[redis.Redis | PubSub] = []
    leak: LeakingClient | None = None
    try:
        with LocalCluster(password=passwords.node_password, acl_user=passwords.own_user) as cluster:
            _start_nodes(cluster, node_count)
            settings = Settings(data_dir=data_dir, host=host, port=port)
            project, instance, key, rule_id = asyncio.run(_seed(settings, cluster, passwords))
            samples = _open_samples(cluster.servers)
            leak = LeakingClient(cluster.servers).start()  # a suspect for GET .../session-growth
            state = _state(settings, f"http://{host}:{port}", project.id, instance, passwords, key, rule_id)
            if state_file:
                _write_private(Path(state_file), state.as_json())
            config = server_config(settled(create_app(settings)), settings)
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: both arrive
            # here as KeyboardInterrupt, so the nodes and the data directory are always cleaned up.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                _DemoServer(config, state).run(sockets=[listener])
            except KeyboardInterrupt:
                pass
            except SystemExit as exc:  # uvicorn exits when its start-up fails
                raise DemoError(f"the API could not start on {host}:{port}") from exc
    finally:
        if leak is not None:
            leak.stop()
        for client in samples:
            client.close()
        listener.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _start_nodes(cluster: LocalCluster, count: int) -> None:
    try:
        for _ in range(count):
            cluster.start_server()
    except RuntimeError as exc:  # redis-server missing, or a node that would not start
        raise DemoError(str(exc)) from None


def _state(
    settings: Settings,
    endpoint: str,
    project_id: str,
    instance: Instance,
    passwords: _Secrets,
    key: AccessKey,
    rule_id: str,
) -> DemoState:
    nodes = [{"id": n.id, "host": n.host, "port": n.port, "password": passwords.node_password} for n in instance.nodes]
    return DemoState(
        endpoint=endpoint,
        region=settings.region,
        project_id=project_id,
        instance_id=instance.id,
        nodes=nodes,
        user={"domain": DOMAIN, "name": "demo-admin", "password": passwords.admin_password},
        readonly_user={"domain": DOMAIN, "name": "demo-reader", "password": passwords.reader_password},
        ak=key.id,
        sk=key.secret or "",
        data_dir=str(settings.data_dir),
        rule_id=rule_id,
    )


def _write_private(path: Path, text: str) -> None:
    """The state file holds passwords and the SK: readable by its owner only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
