"""The wired object graph, built once by ``create_app`` (or the CLI) and passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sessionplane.audit.store import AuditStore
from sessionplane.audit.trail import AuditTrail
from sessionplane.auth.authenticate import Authenticator
from sessionplane.auth.lockout import Lockout
from sessionplane.db import Database
from sessionplane.iam.authorize import Authorizer
from sessionplane.iam.store import IamStore
from sessionplane.inventory.discovery import Discovery
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import Keyring
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.nodes.discovery import TopologyReader
from sessionplane.sessions.fleet import FleetService
from sessionplane.sessions.service import SessionService
from sessionplane.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    keyring: Keyring
    inventory: InventoryStore
    iam: IamStore
    audit_store: AuditStore
    audit: AuditTrail
    nodes: NodeAdapter
    authenticator: Authenticator
    authorizer: Authorizer
    sessions: SessionService
    fleet: FleetService
    discovery: Discovery

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.resolved_database_url)
        keyring = Keyring.load_or_create(settings.resolved_keyring_file)
        inventory = InventoryStore(db, keyring)
        iam = IamStore(db, keyring)
        audit_store = AuditStore(db)
        audit = AuditTrail(audit_store)
        nodes = NodeAdapter(settings)
        authorizer = Authorizer(iam=iam, audit=audit, region=settings.region)
        sessions = SessionService(nodes=nodes, audit=audit, settings=settings)
        return cls(
            settings=settings,
            db=db,
            keyring=keyring,
            inventory=inventory,
            iam=iam,
            audit_store=audit_store,
            audit=audit,
            nodes=nodes,
            authenticator=Authenticator(
                inventory=inventory,
                iam=iam,
                keyring=keyring,
                lockout=Lockout(),
                max_skew=timedelta(seconds=settings.sdk_date_max_skew_seconds),
            ),
            authorizer=authorizer,
            sessions=sessions,
            fleet=FleetService(
                sessions=sessions, inventory=inventory, authorizer=authorizer, audit=audit, settings=settings
            ),
            discovery=Discovery(inventory=inventory, reader=TopologyReader(settings)),
        )

    async def start(self) -> None:
        await self.db.migrate()

    async def close(self) -> None:
        await self.nodes.close()
        await self.db.dispose()
