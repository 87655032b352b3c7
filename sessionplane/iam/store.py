"""The IAM store: access keys, groups, account policies and their attachments to users or groups.

AK secret keys are stored encrypted with the keyring and returned decrypted only on the
``AccessKey`` record the authenticator verifies against.

The two lookups of every request (``access_key``, ``effective_policies``) are cached in process
and dropped whenever the store revision moves (``sessionplane.revision``): any write to these
tables, from any process, moves it.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import delete, or_, select

from sessionplane import ids
from sessionplane.db import Database
from sessionplane.iam.records import AccessKey, Attachment, Group, StoredPolicy
from sessionplane.iam.tables import AccessKeyRow, GroupMemberRow, GroupRow, PolicyAttachmentRow, PolicyRow
from sessionplane.keyring import Keyring

_AK_ALPHABET = string.ascii_uppercase + string.digits


class IamStore:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self._db = db
        self._keyring = keyring
        self._access_keys = db.revision.cache()
        self._policies = db.revision.cache()

    # -- access keys -----------------------------------------------------------------------

    async def create_access_key(self, *, user_id: str, description: str = "") -> AccessKey:
        """A new AK/SK pair; the returned record is the only time the secret is shown."""
        ak = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
        sk = secrets.token_urlsafe(30)[:40]
        row = AccessKeyRow(
            id=ak, user_id=user_id, secret_encrypted=self._keyring.encrypt(sk), enabled=True, description=description
        )
        await self._db.insert(row, "access key already exists")
        return _access_key(row, secret=sk)

    async def access_key(self, ak: str) -> AccessKey | None:
        return await self._access_keys.get(ak, lambda: self._load_access_key(ak))

    async def _load_access_key(self, ak: str) -> AccessKey | None:
        async with self._db.sessions() as s:
            row = await s.get(AccessKeyRow, ak)
        return _access_key(row, secret=self._keyring.decrypt(row.secret_encrypted)) if row else None

    async def access_keys(self, *, user_id: str) -> list[AccessKey]:
        async with self._db.sessions() as s:
            rows = await s.scalars(select(AccessKeyRow).where(AccessKeyRow.user_id == user_id))
            return [_access_key(r) for r in rows]

    async def set_access_key_enabled(self, ak: str, enabled: bool) -> bool:
        async with self._db.transaction() as s:
            row = await s.get(AccessKeyRow, ak)
            if row is None:
                return False
            row.enabled = enabled
        return True

    async def delete_access_key(self, ak: str) -> bool:
        async with self._db.transaction() as s:
            result = await s.execute(delete(AccessKeyRow).where(AccessKeyRow.id == ak))
        return result.rowcount > 0

    async def reencrypt_secrets(self) -> int:
        async with self._db.transaction() as s:
            rows = (await s.scalars(select(AccessKeyRow))).all()
            for row in rows:
                row.secret_encrypted = self._keyring.reencrypt(row.secret_encrypted)
        return len(rows)

    # -- groups ----------------------------------------------------------------------------

    async def create_group(self, *, account_id: str, name: str) -> Group:
        row = GroupRow(id=ids.plain_id(), account_id=account_id, name=name)
        await self._db.insert(row, f"group {name!r} already exists")
        return Group(row.id, row.account_id, row.name)

    async def group_by_name(self, *, account_id: str, name: str) -> Group | None:
        async with self._db.sessions() as s:
            row = await s.scalar(select(GroupRow).where(GroupRow.account_id == account_id, GroupRow.name == name))
        return Group(row.id, row.account_id, row.name) if row else None

    async def groups(self, *, account_id: str) -> list[Group]:
        async with self._db.sessions() as s:
            rows = await s.scalars(select(GroupRow).where(GroupRow.account_id == account_id).order_by(GroupRow.name))
            return [Group(r.id, r.account_id, r.name) for r in rows]

    async def add_member(self, *, group_id: str, user_id: str) -> None:
        await self._db.insert(GroupMemberRow(group_id=group_id, user_id=user_id), "user is already a member")

    # -- policies and attachments ----------------------------------------------------------

    async def put_policy(self, *, account_id: str, name: str, document: str) -> StoredPolicy:
        """Create or replace an account policy (the caller validates the document first)."""
        async with self._db.transaction() as s:
            row = await s.scalar(select(PolicyRow).where(PolicyRow.account_id == account_id, PolicyRow.name == name))
            if row is None:
                row = PolicyRow(id=ids.plain_id(), account_id=account_id, name=name, document=document)
                s.add(row)
            else:
                row.document = document
        return StoredPolicy(row.id, row.account_id, row.name, row.document)

    async def policies(self, *, account_id: str) -> list[StoredPolicy]:
        async with self._db.sessions() as s:
            rows = await s.scalars(select(PolicyRow).where(PolicyRow.account_id == account_id).order_by(PolicyRow.name))
            return [StoredPolicy(r.id, r.account_id, r.name, r.document) for r in rows]

    async def delete_policy(self, *, account_id: str, name: str) -> bool:
        async with self._db.transaction() as s:
            await s.execute(
                delete(PolicyAttachmentRow).where(
                    PolicyAttachmentRow.account_id == account_id, PolicyAttachmentRow.policy_name == name
                )
            )
            result = await s.execute(
                delete(PolicyRow).where(PolicyRow.account_id == account_id, PolicyRow.name == name)
            )
        return result.rowcount > 0

    async def attach(
        self, *, account_id: str, policy_name: str, principal_type: str, principal_id: str, project_id: str | None
    ) -> Attachment:
        row = PolicyAttachmentRow(
            id=ids.plain_id(),
            account_id=account_id,
            policy_name=policy_name,
            principal_type=principal_type,
            principal_id=principal_id,
            project_id=project_id,
        )
        await self._db.insert(row, "attachment already exists")
        return _attachment(row)

    async def detach(self, attachment_id: str) -> bool:
        async with self._db.transaction() as s:
            result = await s.execute(delete(PolicyAttachmentRow).where(PolicyAttachmentRow.id == attachment_id))
        return result.rowcount > 0

    async def attachments(self, *, account_id: str) -> list[Attachment]:
        async with self._db.sessions() as s:
            rows = await s.scalars(select(PolicyAttachmentRow).where(PolicyAttachmentRow.account_id == account_id))
            return [_attachment(r) for r in rows]

    async def effective_policies(
        self, *, account_id: str, user_id: str, project_id: str
    ) -> list[tuple[str, str | None]]:
        """(policy name, account policy document or None for a system policy) granted to the user,
        directly or through a group, in this project or in every project."""
        key = (account_id, user_id, project_id)
        granted = await self._policies.get(key, lambda: self._load_policies(account_id, user_id, project_id))
        return list(granted or ())

    async def _load_policies(
        self, account_id: str, user_id: str, project_id: str
    ) -> tuple[tuple[str, str | None], ...]:
        async with self._db.sessions() as s:
            group_ids = list(await s.scalars(select(GroupMemberRow.group_id).where(GroupMemberRow.user_id == user_id)))
            principal = (PolicyAttachmentRow.principal_type == "user") & (PolicyAttachmentRow.principal_id == user_id)
            if group_ids:
                principal = principal | (
                    (PolicyAttachmentRow.principal_type == "group") & PolicyAttachmentRow.principal_id.in_(group_ids)
                )
            names = set(
                await s.scalars(
                    select(PolicyAttachmentRow.policy_name).where(
                        PolicyAttachmentRow.account_id == account_id,
                        principal,
                        or_(PolicyAttachmentRow.project_id == project_id, PolicyAttachmentRow.project_id.is_(None)),
                    )
                )
            )
            if not names:
                return ()
            rows = await s.scalars(
                select(PolicyRow).where(PolicyRow.account_id == account_id, PolicyRow.name.in_(names))
            )
            documents = {r.name: r.document for r in rows}
        return tuple((name, documents.get(name)) for name in sorted(names))


def _access_key(row: AccessKeyRow, *, secret: str | None = None) -> AccessKey:
    return AccessKey(
        id=row.id,
        user_id=row.user_id,
        enabled=row.enabled,
        description=row.description,
        created_at=row.created_at,
        secret=secret,
    )


def _attachment(row: PolicyAttachmentRow) -> Attachment:
    return Attachment(row.id, row.policy_name, row.principal_type, row.principal_id, row.project_id)
