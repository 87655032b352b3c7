"""Route 2.6: discover the project's instances and their nodes, as the SDK's list_instances expects."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from sessionplane.api import schemas
from sessionplane.api.deps import Caller, Offset, ProjectId, Svc
from sessionplane.health.status import group_status, instance_status
from sessionplane.iam.actions import LIST_INSTANCES
from sessionplane.inventory.records import Instance, InstanceFilter

router = APIRouter(prefix="/v3/{project_id}", tags=["Instances"])
Text = Annotated[str | None, Query(max_length=128)]


@router.get(
    "/instances", response_model=schemas.InstanceList, responses=schemas.ERROR_RESPONSES, summary="List instances"
)
async def list_instances(
    project_id: ProjectId,
    meta: Caller,
    svc: Svc,
    id: Text = None,
    name: Text = None,
    datastore_type: Text = None,
    mode: Text = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict:
    await svc.authorizer.require(meta, LIST_INSTANCES, None)
    where = InstanceFilter(id=id, name=name, datastore_type=datastore_type, mode=mode)
    instances, total = await svc.inventory.instances(project_id=project_id, where=where, offset=offset, limit=limit)
    return {"instances": [_summary(i, svc.settings.region) for i in instances], "total_count": total}


def _summary(instance: Instance, region: str) -> dict:
    groups: dict[str, list[dict]] = {}
    for node in instance.nodes:
        groups.setdefault(node.group_id, []).append(
            {
                "id": node.id,
                "name": node.name,
                "status": node.status,
                "role": node.role,
                "private_ip": node.host,
                "port": str(node.port),
            }
        )
    return {
        "id": instance.id,
        "name": instance.name,
        "status": instance_status(instance),
        "mode": instance.mode,
        "region": region,
        "port": str(instance.nodes[0].port) if instance.nodes else "",
        "engine": "rocksDB",
        "datastore": {"type": instance.datastore_type, "version": instance.datastore_version},
        "enterprise_project_id": instance.enterprise_project_id,
        "created": _time(instance.created_at),
        "updated": _time(instance.updated_at),
        "groups": [
            {"id": gid, "status": group_status(n for n in instance.nodes if n.group_id == gid), "nodes": nodes}
            for gid, nodes in groups.items()
        ],
    }


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
