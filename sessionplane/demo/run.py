"""``sessionplane demo``: local nodes, a registered instance, users and keys, sample sessions, the API.

Everything lives in temporary directories and is stopped and removed on exit (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.client import PubSub

from sessionplane import admin
from sessionplane.demo.instructions import print_instructions
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.iam.system_policies import READ_ONLY
from sessionplane.inventory.records import AccessKey, Instance, NodeSpec
from sessionplane.settings import Settings
from sessionplane.testing.live import LiveService

DOMAIN = "demo"
SAMPLE_CLIENTS = ("orders-api", "orders-api", "billing-worker", "metrics-agent", "")


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

    def as_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)


async def _seed(live: LiveService, cluster: LocalCluster, password: str, readonly_password: str) -> tuple:
    s = live.services
    admin_user = await admin.add_user(s.inventory, domain=DOMAIN, name="demo-admin", password=password, is_admin=True)
    reader = await admin.add_user(s.inventory, domain=DOMAIN, name="demo-reader", password=readonly_password)
    project = await admin.add_project(s.inventory, domain=DOMAIN, name=live.settings.region)
    await s.iam.attach(
        account_id=admin_user.account_id,
        policy_name=READ_ONLY.name,
        principal_type="user",
        principal_id=reader.id,
        project_id=project.id,
    )
    specs = [
        NodeSpec(host=n.host, port=n.port, password=n.password, name=f"proxy_{i + 1}")
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
        protected_names=["demo-guardian"],
    )
    key = await s.iam.create_access_key(user_id=admin_user.id, description="demo")
    return project, instance, key


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


def run_demo(*, host: str, port: int, node_count: int, state_file: str | None) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="sessionplane-demo-"))
    node_password = secrets.token_urlsafe(12)
    password, readonly_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LocalCluster(password=node_password) as cluster:
        for _ in range(node_count):
            cluster.start_server()
        live = LiveService(Settings(data_dir=data_dir, host=host, port=port), host=host, port=port).start()
        samples: list[redis.Redis | PubSub] = []
        try:
            project, instance, key = live.call(_seed(live, cluster, password, readonly_password))
            samples = _open_samples(cluster.servers)
            state = _state(live, project.id, instance, node_password, password, readonly_password, key)
            if state_file:
                _write_private(Path(state_file), state.as_json())
            print_instructions(state)
            stop.wait()
        finally:
            for client in samples:
                client.close()
            live.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


def _state(
    live: LiveService,
    project_id: str,
    instance: Instance,
    node_password: str,
    password: str,
    readonly_password: str,
    key: AccessKey,
) -> DemoState:
    nodes = [{"id": n.id, "host": n.host, "port": n.port, "password": node_password} for n in instance.nodes]
    return DemoState(
        endpoint=live.url,
        region=live.settings.region,
        project_id=project_id,
        instance_id=instance.id,
        nodes=nodes,
        user={"domain": DOMAIN, "name": "demo-admin", "password": password},
        readonly_user={"domain": DOMAIN, "name": "demo-reader", "password": readonly_password},
        ak=key.id,
        sk=key.secret or "",
    )


def _write_private(path: Path, text: str) -> None:
    """The state file holds passwords and the SK: readable by its owner only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
