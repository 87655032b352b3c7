"""The official Huawei Cloud SDK (huaweicloudsdkgaussdbfornosql), unchanged, against sessionplane and real nodes.

It signs every request with AK/SK (SDK-HMAC-SHA256); its exceptions must carry our status,
error_code, error_msg and request id.
"""

from __future__ import annotations

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkgaussdbfornosql.v3 import (
    ClearInstanceSessionsRequest,
    DeleteInstancesSessionRequest,
    DeleteInstancesSessionRequestBody,
    GaussDBforNoSQLClient,
    ListInstanceSessionsRequest,
    ListInstancesRequest,
    ListInstancesSessionRequest,
    ListInstancesSessionStatisticsRequest,
)

from sessionplane import admin
from tests.support import client_ids


@pytest.fixture(scope="module")
def access_key(service, tenant):
    inventory = service.services.inventory
    account = service.call(inventory.account_by_name(tenant.domain))
    admin_user = service.call(inventory.user_by_name(account_id=account.id, name=tenant.admin_name))
    return service.call(service.services.iam.create_access_key(user_id=admin_user.id, description="sdk tests"))


def sdk(service, project_id: str, ak: str, sk: str) -> GaussDBforNoSQLClient:
    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    return (
        GaussDBforNoSQLClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoints([service.url])
        .build()
    )


@pytest.fixture
def client(service, tenant, access_key):
    return sdk(service, tenant.project_id, access_key.id, access_key.secret)


def test_list_instances(client, cluster, register):
    instance = register(cluster.start_server(), name="sdk-listed", tags={"env": "dev"})
    response = client.list_instances(ListInstancesRequest(name="sdk-listed"))
    assert response.total_count == 1
    (found,) = response.instances
    assert found.id == instance.id and found.mode == "Cluster" and found.datastore.type == "redis"
    assert found.groups[0].nodes[0].id == instance.nodes[0].id


def test_list_node_sessions_and_statistics(client, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    opened = [sessions(server, name=f"sdk-{i}", source_ip="127.0.0.9") for i in range(3)]
    node_id = instance.nodes[0].id

    page = client.list_instances_session(ListInstancesSessionRequest(node_id=node_id, offset=0, limit=2))
    assert page.total_count == 3
    assert [s.id for s in page.sessions] == [str(s.id) for s in reversed(opened)][:2]
    assert page.sessions[0].name == "sdk-2" and isinstance(page.sessions[0].age, str)

    stats = client.list_instances_session_statistics(ListInstancesSessionStatisticsRequest(node_id=node_id))
    assert stats.total_connection_count == 3
    assert stats.top_source_ips[0].client_ip == "127.0.0.9" and stats.top_source_ips[0].connection_count == 3


def test_list_instance_sessions(client, cluster, sessions, register):
    servers = [cluster.start_server(), cluster.start_server()]
    instance = register(*servers)
    sessions(servers[1], name="only-on-two")
    response = client.list_instance_sessions(ListInstanceSessionsRequest(instance_id=instance.id))
    assert [n.node_id for n in response.node_sessions] == [n.id for n in instance.nodes]
    assert [n.total_count for n in response.node_sessions] == [0, 1]
    assert response.node_sessions[1].sessions[0].name == "only-on-two"


def test_delete_sessions_by_id(client, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    gone, kept = sessions(server, name="gone"), sessions(server, name="kept")
    body = DeleteInstancesSessionRequestBody(is_all=False, session_ids=[str(gone.id)])
    client.delete_instances_session(DeleteInstancesSessionRequest(node_id=instance.nodes[0].id, body=body))
    assert gone.closed_by_node() and gone.id not in client_ids(server)
    assert kept.alive()


def test_clear_instance_sessions(client, cluster, sessions, register):
    servers = [cluster.start_server(), cluster.start_server()]
    instance = register(*servers)
    opened = [sessions(server, name="app") for server in servers]
    client.clear_instance_sessions(ClearInstanceSessionsRequest(instance_id=instance.id))
    assert all(s.closed_by_node() for s in opened)


def test_clear_one_node_of_an_instance(client, cluster, sessions, register):
    servers = [cluster.start_server(), cluster.start_server()]
    instance = register(*servers)
    first, second = sessions(servers[0], name="a"), sessions(servers[1], name="b")
    client.clear_instance_sessions(ClearInstanceSessionsRequest(instance_id=instance.id, node_id=instance.nodes[1].id))
    assert second.closed_by_node() and first.alive()


def _raised(call) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as caught:
        call()
    return caught.value


def test_errors_surface_as_sdk_exceptions(client, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    kept = sessions(server, name="kept")
    node_id = instance.nodes[0].id

    empty = _raised(
        lambda: client.delete_instances_session(
            DeleteInstancesSessionRequest(
                node_id=node_id, body=DeleteInstancesSessionRequestBody(is_all=False, session_ids=[])
            )
        )
    )
    assert (empty.status_code, empty.error_code) == (400, "DBS.200001")
    assert "session_ids must not be empty" in empty.error_msg and empty.request_id

    invalid = _raised(
        lambda: client.delete_instances_session(
            DeleteInstancesSessionRequest(
                node_id=node_id, body=DeleteInstancesSessionRequestBody(is_all=False, session_ids=["abc"])
            )
        )
    )
    assert (invalid.status_code, invalid.error_code) == (400, "DBS.301071")

    missing = _raised(lambda: client.list_instances_session(ListInstancesSessionRequest(node_id="f" * 32 + "no12")))
    assert (missing.status_code, missing.error_code) == (404, "DBS.200013")

    bad_limit = _raised(lambda: client.list_instances_session(ListInstancesSessionRequest(node_id=node_id, limit=500)))
    assert (bad_limit.status_code, bad_limit.error_code) == (400, "DBS.200001")
    assert kept.alive()

    server.stop()
    down = _raised(lambda: client.clear_instance_sessions(ClearInstanceSessionsRequest(instance_id=instance.id)))
    assert (down.status_code, down.error_code) == (400, "DBS.301077") and node_id in down.error_msg


def test_wrong_secret_key_and_other_project(service, tenant, access_key, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    kept = sessions(server, name="kept")
    wrong = sdk(service, tenant.project_id, access_key.id, "x" * 40)
    denied = _raised(lambda: wrong.clear_instance_sessions(ClearInstanceSessionsRequest(instance_id=instance.id)))
    assert (denied.status_code, denied.error_code) == (401, "APIG.0301") and denied.request_id
    assert kept.alive()

    elsewhere = service.call(admin.add_project(service.services.inventory, domain="other-sdk-co", name="p"))
    other = sdk(service, elsewhere.id, access_key.id, access_key.secret)
    foreign = _raised(lambda: other.list_instances(ListInstancesRequest()))
    assert foreign.status_code == 401  # the project is not one of the key owner's account
