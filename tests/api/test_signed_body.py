"""A captured AK/SK-signed close cannot be replayed with another body (issue 6, item 1).

The close is signed by the official SDK's own signer, sent over HTTP to a live service, and its
effect is checked on a real redis-server node.
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import httpx
import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tests.rawhttp import RawHttp, chunked
from tests.support import client_ids


@pytest.fixture(scope="module")
def access_key(service, tenant):
    inventory = service.services.inventory
    account = service.call(inventory.account_by_name(tenant.domain))
    owner = service.call(inventory.user_by_name(account_id=account.id, name=tenant.admin_name))
    return service.call(service.services.iam.create_access_key(user_id=owner.id, description="replay tests"))


def sdk_signed_close(service, access_key, project_id: str, node_id: str, body: bytes) -> dict[str, str]:
    """The headers the SDK sends for a by-ID close: what an attacker on the path captures."""
    request = SdkRequest(
        method="DELETE",
        schema="http",
        host=f"{service.host}:{service.port}",
        resource_path=f"/v3/{project_id}/redis/nodes/{node_id}/sessions",
        query_params=[],
        header_params={"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": project_id},
        body=body,
    )
    signed = Signer(SimpleNamespace(ak=access_key.id, sk=access_key.secret)).sign(request)
    return {k: v for k, v in signed.header_params.items() if k != "Host"}


def _target_and_bystander(cluster, register, sessions):
    """A registered node with two sessions: the one a close names, and one it must leave alone."""
    server = cluster.start_server()
    node_id = register(server).nodes[0].id
    return server, node_id, sessions(server, name="target"), sessions(server, name="bystander")


def test_a_replayed_close_with_another_body_closes_nothing(service, tenant, access_key, cluster, sessions, register):
    server, node_id, target, bystander = _target_and_bystander(cluster, register, sessions)
    original = json.dumps({"is_all": False, "session_ids": [str(target.id)]}).encode()
    captured = sdk_signed_close(service, access_key, tenant.project_id, node_id, original)
    url = f"{service.url}/v3/{tenant.project_id}/redis/nodes/{node_id}/sessions"

    for swapped in ({"is_all": True}, {"is_all": False, "session_ids": [str(bystander.id)]}):
        replay = {**captured, "X-Sdk-Content-Sha256": hashlib.sha256(original).hexdigest()}
        response = httpx.request("DELETE", url, headers=replay, content=json.dumps(swapped).encode())
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "APIG.0301"
        assert target.alive() and bystander.alive()
        assert {target.id, bystander.id} <= client_ids(server)

    genuine = httpx.request("DELETE", url, headers=captured, content=original)
    assert genuine.status_code == 200, genuine.text
    assert target.closed_by_node() and bystander.alive()


def test_a_signed_close_sent_in_chunks_is_verified_against_the_body_it_carries(
    service, tenant, access_key, cluster, sessions, register
):
    """Without a Content-Length the body still counts: a chunked body is read and hashed, not taken as empty."""
    _server, node_id, target, bystander = _target_and_bystander(cluster, register, sessions)
    body = json.dumps({"is_all": False, "session_ids": [str(target.id)]}).encode()
    signed = sdk_signed_close(service, access_key, tenant.project_id, node_id, body)
    path = f"/v3/{tenant.project_id}/redis/nodes/{node_id}/sessions"
    headers = {"Host": f"{service.host}:{service.port}", **signed, "Transfer-Encoding": "chunked"}  # the signed host
    with RawHttp(service.host, service.port) as connection:
        connection.send(
            f"DELETE {path} HTTP/1.1\r\n".encode()
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
            + b"\r\n"
        )
        connection.send(b"".join(chunked([body[:10], body[10:]])) + b"0\r\n\r\n")
        answer = connection.answer("DELETE")
    assert answer.status == 200, answer.body
    assert target.closed_by_node() and bystander.alive()
