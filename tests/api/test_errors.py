"""Every row of spec section 4 that applies: status, error_code, the envelope, and nothing changed."""

from __future__ import annotations

import httpx
import pytest

from sessionplane import admin
from sessionplane.inventory.records import NodeSpec
from tests.support import client_ids

BAD_BODIES = [
    (b"not json", "DBS.200001"),
    (b"[]", "DBS.200001"),
    (b"{}", "DBS.200001"),  # is_all missing
    (b'{"is_all": "true"}', "DBS.200001"),  # wrong type
    (b'{"is_all": 1}', "DBS.200001"),
    (b'{"is_all": false}', "DBS.200001"),  # session_ids missing
    (b'{"is_all": false, "session_ids": []}', "DBS.200001"),
    (b'{"is_all": false, "session_ids": "12"}', "DBS.200001"),
    (b'{"is_all": false, "session_ids": [1.5]}', "DBS.200001"),
    (b'{"is_all": false, "session_ids": [true]}', "DBS.200001"),
    (b'{"is_all": true, "min_idle_seconds": -1}', "DBS.200001"),
    (b'{"is_all": true, "min_idle_seconds": 2147483648}', "DBS.200001"),
    (b'{"is_all": true, "min_idle_seconds": ' + b"9" * 5000 + b"}", "DBS.200001"),
    (b'{"is_all": true, "min_idle_seconds": NaN}', "DBS.200001"),
    (b'{"is_all": true, "addr_prefix": "' + b"1" * 257 + b'"}', "DBS.200001"),  # longer than the listing allows
    (b'{"is_all": true, "addr_prefix": "' + b"1" * 500_000 + b'"}', "DBS.200001"),  # once stalled every request
    (b'{"is_all": false, "session_ids": ["abc"]}', "DBS.301071"),
    (b'{"is_all": false, "session_ids": ["12", "-3"]}', "DBS.301071"),
    (b'{"is_all": false, "session_ids": [-3]}', "DBS.301071"),
    (b'{"is_all": false, "session_ids": ["1 2"]}', "DBS.301071"),
]


@pytest.fixture
def node_with_sessions(cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    opened = [sessions(server, name=f"c{i}") for i in range(3)]
    return server, instance, opened


def audit_count(service) -> int:
    return len(service.call(service.services.audit_store.events(account_id=None)))


def assert_untouched(server, opened) -> None:
    assert all(s.alive() for s in opened)
    assert {s.id for s in opened} <= client_ids(server)


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert body["error_msg"]
    assert response.headers["X-Request-Id"]
    return body


@pytest.mark.parametrize(("raw", "code"), BAD_BODIES)
def test_bad_close_body(api, tenant, service, node_with_sessions, raw, code):
    server, instance, opened = node_with_sessions
    before = audit_count(service)
    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 400, code)
    assert_untouched(server, opened)
    assert audit_count(service) == before


def test_empty_session_ids_message_is_specific(api, tenant, node_with_sessions):
    _server, instance, _opened = node_with_sessions
    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        json={"is_all": False, "session_ids": []},
    )
    assert "session_ids must not be empty when is_all is false" in response.json()["error_msg"]


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=101", "offset=x", "limit=1.5"])
def test_bad_paging(api, tenant, node_with_sessions, query):
    _server, instance, _opened = node_with_sessions
    response = api.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions?{query}")
    assert_envelope(response, 400, "DBS.200001")


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=101"])
def test_bad_instance_paging(api, tenant, query):
    assert_envelope(api.get(f"/v3/{tenant.project_id}/instances?{query}"), 400, "DBS.200001")


def test_unknown_node_and_instance(api, tenant, service):
    before = audit_count(service)
    p = tenant.project_id
    body = {"is_all": True}
    missing_node = "0" * 32 + "no12"
    missing_instance = "0" * 32 + "in12"
    assert_envelope(api.request("DELETE", f"/v3/{p}/redis/nodes/{missing_node}/sessions", json=body), 404, "DBS.200013")
    assert_envelope(api.get(f"/v3/{p}/redis/nodes/{missing_node}/sessions"), 404, "DBS.200013")
    assert_envelope(api.get(f"/v3/{p}/redis/nodes/{missing_node}/session-statistics"), 404, "DBS.200013")
    assert_envelope(api.delete(f"/v3/{p}/instances/{missing_instance}/sessions"), 404, "DBS.200002")
    assert_envelope(api.get(f"/v3/{p}/instances/{missing_instance}/sessions"), 404, "DBS.200002")
    assert audit_count(service) == before


def test_node_not_in_the_instance(api, tenant, node_with_sessions, cluster, register):
    _server, instance, opened = node_with_sessions
    other = register(cluster.start_server(), name="other")
    url = f"/v3/{tenant.project_id}/instances/{instance.id}/sessions?node_id={other.nodes[0].id}"
    assert_envelope(api.delete(url), 404, "DBS.200013")
    assert all(s.alive() for s in opened)


def test_another_projects_node_reads_as_missing(api, tenant, service, cluster, sessions):
    server = cluster.start_server()
    elsewhere = service.call(admin.add_project(service.services.inventory, domain="other-co", name="eu-west-0"))
    foreign = service.call(
        admin.adopt_instance(
            service.services.inventory,
            project_id=elsewhere.id,
            name="theirs",
            nodes=[NodeSpec(host=server.host, port=server.port)],
        )
    )
    victim = sessions(server, name="victim")
    p = tenant.project_id
    assert_envelope(
        api.request("DELETE", f"/v3/{p}/redis/nodes/{foreign.nodes[0].id}/sessions", json={"is_all": True}),
        404,
        "DBS.200013",
    )
    assert_envelope(api.delete(f"/v3/{p}/instances/{foreign.id}/sessions"), 404, "DBS.200002")
    assert_envelope(api.get(f"/v3/{p}/instances/{foreign.id}/sessions"), 404, "DBS.200002")
    assert victim.alive()


def test_node_down_answers_200018_naming_the_node(api, tenant, service, node_with_sessions):
    server, instance, _opened = node_with_sessions
    node_id = instance.nodes[0].id
    server.stop()
    p = tenant.project_id
    for response in (
        api.request("DELETE", f"/v3/{p}/redis/nodes/{node_id}/sessions", json={"is_all": True}),
        api.get(f"/v3/{p}/redis/nodes/{node_id}/sessions"),
        api.get(f"/v3/{p}/redis/nodes/{node_id}/session-statistics"),
        api.get(f"/v3/{p}/instances/{instance.id}/sessions?node_id={node_id}"),
        api.delete(f"/v3/{p}/instances/{instance.id}/sessions?node_id={node_id}"),
    ):
        body = assert_envelope(response, 403, "DBS.200018")
        assert node_id in body["error_msg"]


def test_a_frozen_instance_answers_200018_and_keeps_its_sessions(api, tenant, service, node_with_sessions):
    server, instance, opened = node_with_sessions
    service.call(service.services.inventory.set_instance_status(instance.id, "frozen"))
    p = tenant.project_id
    for response in (
        api.request("DELETE", f"/v3/{p}/redis/nodes/{instance.nodes[0].id}/sessions", json={"is_all": True}),
        api.delete(f"/v3/{p}/instances/{instance.id}/sessions"),
        api.get(f"/v3/{p}/redis/nodes/{instance.nodes[0].id}/sessions"),
    ):
        body = assert_envelope(response, 403, "DBS.200018")
        assert "frozen" in body["error_msg"]
    assert_untouched(server, opened)


def test_unknown_route_and_method(api, tenant):
    response = api.get("/v3/nope")
    assert response.status_code == 404 and response.json()["error_code"] == "APIG.0101"
    response = api.post(f"/v3/{tenant.project_id}/instances")
    assert response.status_code == 405 and response.json()["error_code"] == "APIG.0101"


def test_error_messages_carry_no_node_secrets(api, tenant, cluster, register):
    server = cluster.start_server()
    instance = register(server)
    server.stop()
    response = api.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
    assert str(server.port) not in response.text


@pytest.mark.parametrize(
    ("rules", "list_code", "close_code"),
    [
        (["+ping", "+hello", "+auth", "+client|setname", "+client|id"], "DBS.301076", "DBS.301077"),
        (["+ping", "+hello", "+auth", "+client|setname", "+client|id", "+client|list"], None, "DBS.301077"),
    ],
)
def test_node_refusing_the_command_answers_query_or_kill_failed(
    api, tenant, service, cluster, sessions, rules, list_code, close_code
):
    """The node answers, but refuses CLIENT LIST or CLIENT KILL to sessionplane's ACL user."""
    server = cluster.start_server()
    with server.client() as admin_client:
        admin_client.acl_setuser("limited", enabled=True, passwords=["+limited-pw"], commands=rules)
    instance = service.call(
        admin.adopt_instance(
            service.services.inventory,
            project_id=tenant.project_id,
            name="acl-limited",
            nodes=[NodeSpec(host=server.host, port=server.port, username="limited", password="limited-pw")],
        )
    )
    victim = sessions(server, name="victim")
    node_id = instance.nodes[0].id
    listing = api.get(f"/v3/{tenant.project_id}/redis/nodes/{node_id}/sessions")
    if list_code:
        body = assert_envelope(listing, 400, list_code)
        assert node_id in body["error_msg"] and "limited-pw" not in body["error_msg"]
    else:
        assert listing.status_code == 200 and listing.json()["total_count"] == 1
    closing = api.request("DELETE", f"/v3/{tenant.project_id}/redis/nodes/{node_id}/sessions", json={"is_all": True})
    assert node_id in assert_envelope(closing, 400, close_code)["error_msg"]
    assert victim.alive()


@pytest.mark.parametrize("offset", ["9223372036854775808", "2147483648", str(10**40)])
def test_offsets_beyond_the_bound_are_400_not_500(api, tenant, node_with_sessions, offset):
    _server, instance, _opened = node_with_sessions
    p = tenant.project_id
    assert_envelope(api.get(f"/v3/{p}/instances?offset={offset}"), 400, "DBS.200001")
    assert_envelope(api.get(f"/v3/{p}/redis/nodes/{instance.nodes[0].id}/sessions?offset={offset}"), 400, "DBS.200001")


def test_the_largest_offset_answers_an_empty_page(api, tenant, node_with_sessions):
    _server, instance, _opened = node_with_sessions
    p = tenant.project_id
    listing = api.get(f"/v3/{p}/instances?offset=2147483647")
    assert listing.status_code == 200 and listing.json()["instances"] == []
    page = api.get(f"/v3/{p}/redis/nodes/{instance.nodes[0].id}/sessions?offset=2147483647")
    assert page.status_code == 200 and page.json()["sessions"] == [] and page.json()["total_count"] == 3


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"is_all": ' + b"[" * 100_000, b'{"a":' * 50_000])
def test_deeply_nested_bodies_are_400(api, tenant, service, node_with_sessions, raw):
    server, instance, opened = node_with_sessions
    before = audit_count(service)
    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "DBS.200001")
    assert_untouched(server, opened)
    assert audit_count(service) == before


def test_a_deeply_nested_sign_in_body_is_400(service):
    nested = b'{"auth": ' + b"[" * 10_000  # within the sign-in body cap
    response = httpx.post(f"{service.url}/v3/auth/tokens", content=nested, headers={"Content-Type": "application/json"})
    assert_envelope(response, 400, "DBS.200001")


def test_conflicting_dry_run_values_close_nothing(api, tenant, service, node_with_sessions):
    server, instance, opened = node_with_sessions
    before = audit_count(service)
    path = f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions"
    for query in ("dry_run=true&dry_run=false", "dry_run=false&dry_run=true", "dry_run=true&dry_run=0"):
        response = api.request("DELETE", f"{path}?{query}", json={"is_all": True})
        body = assert_envelope(response, 400, "DBS.200001")
        assert "dry_run" in body["error_msg"]
    assert_untouched(server, opened)
    assert audit_count(service) == before


def test_a_repeated_parameter_with_one_value_is_fine(api, tenant, node_with_sessions):
    server, instance, opened = node_with_sessions
    path = f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions"
    preview = api.request("DELETE", f"{path}?dry_run=true&dry_run=true", json={"is_all": True})
    assert preview.status_code == 200 and len(preview.json()["sessions"]) == 3
    assert_untouched(server, opened)


@pytest.mark.parametrize(
    "path_and_query",
    [
        "/v3/{p}/instances?limit=1&limit=2",
        "/v3/{p}/instances?name=a&name=b",
        "/v3/{p}/redis/nodes/{n}/sessions?offset=0&offset=1",
        "/v3/{p}/redis/nodes/{n}/session-statistics?x=1&x=2",
        "/v3/{p}/instances/{i}/sessions?node_id={n}&node_id=other",
        "/v3/auth/tokens?nocatalog=true&nocatalog=false",
    ],
)
def test_conflicting_repeated_parameters_are_400_on_every_route(api, tenant, node_with_sessions, path_and_query):
    server, instance, opened = node_with_sessions
    url = path_and_query.format(p=tenant.project_id, n=instance.nodes[0].id, i=instance.id)
    for method in ("GET", "DELETE", "POST"):
        assert_envelope(api.request(method, url), 400, "DBS.200001")
    assert_untouched(server, opened)


# Each Connection Management route with one parameter FastAPI would have refused, and the message it gave.
BAD_PARAMETERS = [
    ("GET", "/redis/nodes/{n}/sessions?offset=x", "offset: Input should be a valid integer, unable to parse string"),
    ("GET", "/redis/nodes/{n}/sessions?limit=101", "limit: Input should be less than or equal to 100"),
    ("GET", "/redis/nodes/{n}/sessions?addr_prefix=" + "1" * 257, "addr_prefix: String should have at most 256"),
    ("GET", "/redis/nodes/" + "n" * 65 + "/session-statistics", "node_id: String should have at most 64 characters"),
    ("DELETE", "/redis/nodes/{n}/sessions?dry_run=maybe", "dry_run: Input should be a valid boolean"),
    ("GET", "/instances/{i}/sessions?node_id=" + "n" * 65, "node_id: String should have at most 64 characters"),
    ("DELETE", "/instances/" + "i" * 65 + "/sessions", "instance_id: String should have at most 64 characters"),
]


@pytest.mark.parametrize(("method", "path", "message"), BAD_PARAMETERS)
def test_a_bad_parameter_is_400_after_authentication_and_closes_nothing(
    api, tenant, service, node_with_sessions, method, path, message
):
    """The routes bind their own parameters (``api.params``): the caller is authenticated first (401 without
    credentials, as the API gateway answers), then a bad value is the 400 FastAPI's binding gave."""
    server, instance, opened = node_with_sessions
    before = audit_count(service)
    url = f"/v3/{tenant.project_id}" + path.format(n=instance.nodes[0].id, i=instance.id)
    body = {"is_all": True} if method == "DELETE" else None
    anonymous = httpx.request(method, service.url + url, json=body)
    assert assert_envelope(anonymous, 401, "APIG.0301")["error_msg"].endswith("x-auth-token not found")
    refused = assert_envelope(api.request(method, url, json=body), 400, "DBS.200001")
    assert refused["error_msg"].startswith(f"Invalid parameter: {message}")
    assert audit_count(service) == before
    assert_untouched(server, opened)


def test_every_bad_parameter_of_a_request_is_named_and_a_long_project_id_is_400_first(api, tenant, service):
    both = api.get(f"/v3/{tenant.project_id}/redis/nodes/{'n' * 65}/sessions?limit=0")
    message = assert_envelope(both, 400, "DBS.200001")["error_msg"]
    assert (
        "node_id: String should have at most 64" in message
        and "limit: Input should be greater than or equal to 1" in message
    )
    # The project ID is checked before authentication, as FastAPI's binding did: a bounded check of the path.
    anonymous = httpx.get(f"{service.url}/v3/{'p' * 65}/redis/nodes/n/sessions")
    assert "project_id: String should have at most 64" in assert_envelope(anonymous, 400, "DBS.200001")["error_msg"]
