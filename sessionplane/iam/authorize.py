"""Authorization: may this principal perform this action on this instance?

The account's admin may do everything (as on Huawei Cloud, "each account has permissions to call
all APIs"); every other user needs an attached policy that allows the action and no policy that
denies it. The decision is ``evaluate()``'s (pure); this module gathers its inputs: the user's
policies in the project, the instance's URN, and the condition keys. Denied closes are audited.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sessionplane.audit.trail import AuditSubject, AuditTrail
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import Forbidden
from sessionplane.iam.actions import Action
from sessionplane.iam.evaluate import Evaluation, NamedPolicy, RequestContext, evaluate
from sessionplane.iam.policy import Policy, parse_policy
from sessionplane.iam.store import IamStore
from sessionplane.iam.system_policies import SYSTEM_POLICIES
from sessionplane.inventory.records import Instance


@functools.lru_cache(maxsize=1024)
def _parsed(document: str) -> Policy:
    return parse_policy(document)


def resource_urns(
    action: Action, instance: Instance | None, *, region: str, account_id: str
) -> tuple[str | None, str | None]:
    if action.resource_type is None or instance is None:
        return None, None
    tail = f"{region}:{account_id}:instance:{instance.id}"
    return f"gaussdbfornosql:{tail}", f"nosql:{tail}"


def condition_keys(meta: RequestMeta, instance: Instance | None, now: datetime) -> dict[str, tuple[str, ...]]:
    p = meta.principal
    keys: dict[str, tuple[str, ...]] = {
        "g:UserId": (p.user_id,),
        "g:UserName": (p.user_name,),
        "g:DomainName": (p.account_name,),
        "g:ProjectId": (p.project_id,),
        "g:ProjectName": (p.project_name,),
        "g:ServiceName": ("gaussdbfornosql",),
        "g:CurrentTime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "g:SecureTransport": (str(p.secure_transport).lower(),),
        "g:MFAPresent": ("false",),
    }
    if p.source_ip:
        keys["g:SourceIp"] = (p.source_ip,)
    if instance is not None:
        keys["g:EnterpriseProjectId"] = (instance.enterprise_project_id,)
        keys["g:TagKeys"] = tuple(instance.tags)
        for tag, value in instance.tags.items():
            keys[f"g:ResourceTag/{tag}"] = (value,)
    return keys


class Authorizer:
    def __init__(
        self,
        *,
        iam: IamStore,
        audit: AuditTrail,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._iam = iam
        self._audit = audit
        self._region = region
        self._clock = clock

    async def require(
        self,
        meta: RequestMeta,
        action: Action,
        instance: Instance | None,
        *,
        node_id: str | None = None,
        parameters: dict[str, object] | None = None,
    ) -> None:
        if meta.principal.is_admin:
            return
        evaluation = await self.explain(meta, action, instance)
        if evaluation.allowed:
            return
        if action.is_write:
            subject = AuditSubject(action.name, instance.id if instance else None, node_id, parameters or {})
            await self._audit.denied(meta, subject, error_code=Forbidden.code)
        raise Forbidden(f"Policy doesn't allow {action.name} to be performed.")

    async def allows(self, meta: RequestMeta, action: Action, instance: Instance | None) -> bool:
        """Whether the action is allowed, without auditing or raising (for scopes that skip what is not)."""
        return meta.principal.is_admin or (await self.explain(meta, action, instance)).allowed

    async def allowed_on(self, meta: RequestMeta, action: Action, instances: Sequence[Instance]) -> list[bool]:
        """``allows`` for each instance, the caller's policies read once (questions about a whole project)."""
        if meta.principal.is_admin:
            return [True] * len(instances)
        policies, now = await self._policies(meta), self._clock()
        return [evaluate(policies, self._context(meta, action, instance, now)).allowed for instance in instances]

    async def explain(self, meta: RequestMeta, action: Action, instance: Instance | None) -> Evaluation:
        return evaluate(await self._policies(meta), self._context(meta, action, instance, self._clock()))

    async def _policies(self, meta: RequestMeta) -> list[NamedPolicy]:
        p = meta.principal
        granted = await self._iam.effective_policies(
            account_id=p.account_id, user_id=p.user_id, project_id=p.project_id
        )
        policies = [self._named(name, document) for name, document in granted]
        return [policy for policy in policies if policy is not None]

    def _context(self, meta: RequestMeta, action: Action, instance: Instance | None, now: datetime) -> RequestContext:
        account_id = meta.principal.account_id
        resource, role_resource = resource_urns(action, instance, region=self._region, account_id=account_id)
        return RequestContext(
            action=action.name,
            alias=action.alias,
            resource=resource,
            role_resource=role_resource,
            keys=condition_keys(meta, instance, now),
        )

    @staticmethod
    def _named(name: str, document: str | None) -> NamedPolicy | None:
        if document is None:
            return SYSTEM_POLICIES.get(name)
        return NamedPolicy(name=name, policy=_parsed(document))
