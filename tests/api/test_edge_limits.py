"""The HTTP edge's limits, over real sockets: body caps, head caps, the body read deadline, clients that hang up.

One service with small limits, so that every limit is cheap to reach. Refused requests close nothing:
the node's sessions stay connected and no audit record is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from sessionplane import admin
from sessionplane.auth import signing
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService
from tests.rawhttp import RawHttp, chunked, filler, head

MAX_BODY = 4096
MAX_SIGNIN_BODY = 1024
MAX_HEADER_BYTES = 8192
MAX_HEADER_COUNT = 24
READ_TIMEOUT = 1.0


@dataclass
class Edge:
    live: LiveService
    project_id: str
    token: str
    ak: str
    sk: str

    @property
    def port(self) -> int:
        return self.live.port

    def audit_count(self) -> int:
        return len(self.live.call(self.live.services.audit_store.events(account_id=None)))

    def register(self, server) -> Instance:
        spec = NodeSpec(host=server.host, port=server.port, password=server.password, name="node_1")
        inventory = self.live.services.inventory
        return self.live.call(admin.adopt_instance(inventory, project_id=self.project_id, name="edge", nodes=[spec]))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    settings = settings_for(
        tmp_path_factory.mktemp("edge"),
        max_body_bytes=MAX_BODY,
        max_signin_body_bytes=MAX_SIGNIN_BODY,
        max_header_bytes=MAX_HEADER_BYTES,
        max_header_count=MAX_HEADER_COUNT,
        body_read_timeout_seconds=READ_TIMEOUT,
    )
    with LiveService(settings) as live:
        inventory = live.services.inventory
        user = live.call(admin.add_user(inventory, domain="edge", name="admin", password=PASSWORD, is_admin=True))
        project = live.call(admin.add_project(inventory, domain="edge", name="ap-1"))
        token = login(live, domain="edge", name="admin", password=PASSWORD, project_id=project.id)
        key = live.call(live.services.iam.create_access_key(user_id=user.id, description="edge tests"))
        yield Edge(live, project.id, token, key.id, key.secret or "")


@pytest.fixture
def node(edge, cluster, sessions):
    server = cluster.start_server()
    instance = edge.register(server)
    return server, instance, [sessions(server, name=f"c{i}") for i in range(2)]


def close_path(edge: Edge, instance: Instance) -> str:
    return f"/v3/{edge.project_id}/redis/nodes/{instance.nodes[0].id}/sessions"


def assert_refused(answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    body = answer.json()
    assert body["error_code"] == code and body["error_msg"] and body["request_id"]
    assert answer.headers["X-Request-Id"] == body["request_id"]


# --- authentication comes before the body -------------------------------------------------------


def test_a_bad_token_is_refused_without_waiting_for_the_body(edge, node):
    _server, instance, opened = node
    before = edge.audit_count()
    with RawHttp("127.0.0.1", edge.port) as connection:
        # The body is announced and never sent: reading it first would wait for the read deadline (408).
        connection.send(head("DELETE", close_path(edge, instance), {"X-Auth-Token": "forged", "Content-Length": 100}))
        answer = connection.answer("DELETE")
        assert_refused(answer, 401, "APIG.0301")
        assert answer.headers["Connection"] == "close" and connection.closed_by_server()
    assert all(s.alive() for s in opened) and edge.audit_count() == before


# --- body caps -----------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_authenticated_body_over_the_cap_is_413_and_closes_nothing(edge, node, framing):
    server, instance, opened = node
    before = edge.audit_count()
    padding = " " * MAX_BODY
    body = json.dumps({"is_all": True, "padding": padding}).encode()  # valid, and over the cap
    headers = {"X-Auth-Token": edge.token, "Content-Type": "application/json"}
    with RawHttp("127.0.0.1", edge.port) as connection:
        if framing == "content-length":
            connection.send(head("DELETE", close_path(edge, instance), headers | {"Content-Length": len(body)}) + body)
        else:
            connection.send(head("DELETE", close_path(edge, instance), headers | {"Transfer-Encoding": "chunked"}))
            connection.send(b"".join(chunked([body[:1000], body[1000:]])) + b"0\r\n\r\n")
        answer = connection.answer("DELETE")
        assert_refused(answer, 413, "APIG.0201")
        assert str(MAX_BODY) in answer.json()["error_msg"]
    assert all(s.alive() for s in opened) and edge.audit_count() == before


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(edge, node):
    _server, instance, opened = node
    headers = {"X-Auth-Token": edge.token, "Content-Type": "application/json", "Content-Length": MAX_BODY + 1}
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("DELETE", close_path(edge, instance), headers))  # no body: waiting for it would be 408
        assert_refused(connection.answer("DELETE"), 413, "APIG.0201")
        assert connection.closed_by_server()
    assert all(s.alive() for s in opened)


def test_a_body_at_the_cap_is_read(edge, node):
    _server, instance, opened = node
    body = json.dumps({"is_all": False, "session_ids": [str(opened[0].id)]}).encode()
    body += b" " * (MAX_BODY - len(body))
    response = httpx.request(
        "DELETE",
        f"{edge.live.url}{close_path(edge, instance)}",
        content=body,
        headers={"X-Auth-Token": edge.token, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert opened[0].closed_by_node() and opened[1].alive()


def _signed(edge: Edge, method: str, path: str, body: bytes) -> dict[str, str]:
    headers = {
        "Host": f"127.0.0.1:{edge.port}",
        "Content-Type": "application/json",
        "X-Sdk-Date": datetime.now(UTC).strftime(signing.DATE_FORMAT),
        "X-Project-Id": edge.project_id,
    }
    request = signing.SignedRequest(method, path, (), headers, body)
    return headers | {"Authorization": signing.sign_request(request, edge.ak, edge.sk, list(headers))}


def _signed_delete(edge: Edge, path: str, body: bytes) -> httpx.Response:
    return httpx.request("DELETE", edge.live.url + path, content=body, headers=_signed(edge, "DELETE", path, body))


def test_a_signed_body_is_verified_under_the_cap(edge, node):
    _server, instance, opened = node
    path = close_path(edge, instance)
    response = _signed_delete(edge, path, json.dumps({"is_all": False, "session_ids": [str(opened[0].id)]}).encode())
    assert response.status_code == 200, response.text
    assert opened[0].closed_by_node()

    before = edge.audit_count()
    response = _signed_delete(edge, path, json.dumps({"is_all": True, "padding": " " * MAX_BODY}).encode())
    assert response.status_code == 413 and response.json()["error_code"] == "APIG.0201"
    assert opened[1].alive() and edge.audit_count() == before


def test_the_sign_in_body_has_a_smaller_cap(edge):
    user = {"name": "admin", "password": PASSWORD, "domain": {"name": "edge"}, "padding": "x" * MAX_SIGNIN_BODY}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": {"project": {}}}}
    response = httpx.post(f"{edge.live.url}/v3/auth/tokens", json=body)
    assert response.status_code == 413 and response.json()["error_code"] == "APIG.0201"
    assert str(MAX_SIGNIN_BODY) in response.json()["error_msg"] and "X-Subject-Token" not in response.headers
    login(edge.live, domain="edge", name="admin", password=PASSWORD, project_id=edge.project_id)  # still fine


# --- request heads -------------------------------------------------------------------------------


def test_a_head_over_the_size_limit_is_431(edge):
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("GET", f"/v3/{edge.project_id}/instances", {"X-Padding": "x" * MAX_HEADER_BYTES}))
        answer = connection.answer()
        assert_refused(answer, 431, "APIG.0201")
        assert connection.closed_by_server()


def test_a_head_with_too_many_fields_is_431(edge):
    fields = {f"X-Field-{i}": "1" for i in range(MAX_HEADER_COUNT + 1)}
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("GET", f"/v3/{edge.project_id}/instances", fields))
        assert_refused(connection.answer(), 431, "APIG.0201")
        assert connection.closed_by_server()


def test_a_head_within_the_limits_is_served(edge):
    fields = {f"X-Field-{i}": "y" * 100 for i in range(MAX_HEADER_COUNT - 4)}  # Host and the token count too
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("GET", f"/v3/{edge.project_id}/instances", fields | {"X-Auth-Token": edge.token}))
        assert connection.answer().status == 200
        # and the connection stays usable for the next request
        connection.send(head("GET", f"/v3/{edge.project_id}/instances", {"X-Auth-Token": edge.token}))
        assert connection.answer().status == 200


def test_a_request_that_is_not_http_gets_the_envelope(edge):
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert_refused(connection.answer(), 400, "APIG.0201")
        assert connection.closed_by_server()


# --- slow and vanishing bodies -------------------------------------------------------------------


def test_a_body_shorter_than_its_content_length_times_out_with_408(edge, node):
    _server, instance, opened = node
    before = edge.audit_count()
    headers = {"X-Auth-Token": edge.token, "Content-Type": "application/json", "Content-Length": 100}
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("DELETE", close_path(edge, instance), headers) + b'{"is_all": true')
        answer = connection.answer("DELETE")
        assert_refused(answer, 408, "APIG.0201")
        assert answer.headers["Connection"] == "close" and connection.closed_by_server()
    assert all(s.alive() for s in opened) and edge.audit_count() == before


def test_a_client_that_hangs_up_mid_body_is_not_an_error(edge, node, caplog):
    _server, instance, opened = node
    caplog.set_level(logging.INFO)
    headers = {"X-Auth-Token": edge.token, "Content-Type": "application/json", "Content-Length": 100}
    with RawHttp("127.0.0.1", edge.port) as connection:
        connection.send(head("DELETE", close_path(edge, instance), headers) + b'{"is_all": ')
    deadline = time.monotonic() + 10  # a liveness guard, not a speed assertion
    while not any(" 499 " in r.getMessage() for r in caplog.records if r.name == "sessionplane.access"):
        assert time.monotonic() < deadline, "the request never finished"
        time.sleep(0.05)
    # One more round trip on the same loop: anything logged after the access line has been logged by now.
    assert httpx.get(f"{edge.live.url}/v3/{edge.project_id}/instances", headers={"X-Auth-Token": edge.token})
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    assert all(s.alive() for s in opened)


# --- methods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v3/{p}/redis/nodes/n/sessions", "DELETE, GET"),
        ("PUT", "/v3/{p}/instances/i/sessions", "DELETE, GET"),
        ("DELETE", "/v3/{p}/instances", "GET"),
        ("GET", "/v3/auth/tokens", "POST"),
        ("POST", "/docs/vendor/swagger-ui/swagger-ui.css", "GET, HEAD"),
    ],
)
def test_405_names_every_allowed_method(edge, method, path, allowed):
    response = httpx.request(method, edge.live.url + path.format(p=edge.project_id))
    assert response.status_code == 405 and response.json()["error_code"] == "APIG.0101"
    assert response.headers["Allow"] == allowed


def test_unread_bodies_are_not_read_after_the_answer(edge):
    """A GET never reads its body: the answer closes the connection rather than read what follows."""
    with RawHttp("127.0.0.1", edge.port) as connection:
        request_head = head(
            "GET", f"/v3/{edge.project_id}/instances", {"X-Auth-Token": edge.token, "Content-Length": 10**9}
        )
        connection.send(request_head)
        sender = connection.send_in_background(filler(64 * 1024 * 1024))
        answer = connection.answer()
        assert answer.status == 200 and answer.headers["Connection"] == "close"
        assert connection.closed_by_server()
        sender.join()
