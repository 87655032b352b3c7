"""Nodes that hang or lie about who they are: bounded waits, verified TLS, clear errors."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sessionplane import admin
from sessionplane.demo.servers import free_port, redis_server_binary
from sessionplane.inventory.records import NodeSpec
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveService, str, httpx.Client]]:
    ca, _ = _certificate(tmp_path, "ca", sans=None)
    settings = settings_for(tmp_path / "svc", node_deadline_seconds=1.5, node_tls_ca_file=ca)
    with LiveService(settings) as service:
        inventory = service.services.inventory
        service.call(admin.add_user(inventory, domain="faults", name="admin", password=PASSWORD, is_admin=True))
        project = service.call(admin.add_project(inventory, domain="faults", name="p"))
        token = login(service, domain="faults", name="admin", password=PASSWORD, project_id=project.id)
        with httpx.Client(base_url=service.url, headers={"X-Auth-Token": token}, timeout=120) as client:
            yield service, project.id, client


def _adopt(service: LiveService, project_id: str, spec: NodeSpec):
    return service.call(
        admin.adopt_instance(service.services.inventory, project_id=project_id, name="faulty", nodes=[spec])
    )


def test_a_frozen_node_answers_within_the_node_deadline_and_says_so(live, cluster, sessions):
    service, project_id, api = live
    server = cluster.start_server()
    instance = _adopt(service, project_id, NodeSpec(host=server.host, port=server.port))
    client = sessions(server, name="frozen-with-its-node")
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        listing = api.get(f"/v3/{project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
        close = api.request(
            "DELETE", f"/v3/{project_id}/redis/nodes/{instance.nodes[0].id}/sessions", json={"is_all": True}
        )
    finally:
        os.kill(server.process.pid, signal.SIGCONT)

    for response in (listing, close):
        assert response.status_code == 403, response.text
        assert response.json()["error_code"] == "DBS.200018"
        assert "1.5 s node deadline" in response.json()["error_msg"]
    assert client.alive()
    recovered = api.get(f"/v3/{project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
    assert recovered.status_code == 200 and recovered.json()["total_count"] == 1


def test_a_node_address_where_another_protocol_answers_is_unavailable_not_a_fault(live):
    """An instance whose node address is an HTTP server (here this very service): the RESP handshake is
    answered with ``HTTP/1.1 400``, which no reply parser accepts. Every path says DBS.200018, never 500."""
    service, project_id, api = live
    port = int(service.url.rsplit(":", 1)[1])
    instance = _adopt(service, project_id, NodeSpec(host="127.0.0.1", port=port))
    node = instance.nodes[0].id

    listing = api.get(f"/v3/{project_id}/redis/nodes/{node}/sessions")
    close = api.request("DELETE", f"/v3/{project_id}/redis/nodes/{node}/sessions", json={"is_all": True})
    search = api.post(f"/sessionplane/v1/{project_id}/sessions/search", json={})

    for response in (listing, close):
        assert response.status_code == 403, response.text
        assert response.json()["error_code"] == "DBS.200018"
        assert f"Node {node} does not answer as a Redis server." in response.json()["error_msg"]
    assert search.status_code == 200, search.text
    assert [f["node_id"] for f in search.json()["failed_nodes"]] == [node]


@pytest.mark.parametrize(("sans", "verified"), [(["localhost", "127.0.0.1"], True), (["wrong.example"], False)])
def test_tls_nodes_are_verified_by_certificate_and_host_name(live, tmp_path, sans, verified):
    service, project_id, api = live
    ca, ca_key = _certificate(tmp_path, "ca", sans=None)
    cert, key = _certificate(tmp_path, "node", sans=sans, issuer=(ca, ca_key))
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)),
            *("--tls-auth-clients", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        instance = _adopt(service, project_id, NodeSpec(host="127.0.0.1", port=port, tls=True))
        response = _retry_until_listening(api, f"/v3/{project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
        if verified:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 403
            assert response.json()["error_code"] == "DBS.200018"
            assert "TLS verification failed" in response.json()["error_msg"]
    finally:
        process.terminate()
        process.wait(10)


def _retry_until_listening(api: httpx.Client, path: str) -> httpx.Response:
    for _ in range(100):
        response = api.get(path)
        if "cannot be reached" not in response.text:
            return response
    return response


def _certificate(
    directory: Path, name: str, *, sans: list[str] | None, issuer: tuple[Path, Path] | None = None
) -> tuple[Path, Path]:
    """A CA (``sans`` None) or a server certificate signed by ``issuer``; files reused per directory."""
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    if cert_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sessionplane test {name}")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans is None:
        builder = builder.issuer_name(subject).add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        signing_key = key
    else:
        assert issuer is not None
        ca_cert = x509.load_pem_x509_certificate(issuer[0].read_bytes())
        signing_key = serialization.load_pem_private_key(issuer[1].read_bytes(), password=None)  # type: ignore[assignment]
        names = [_san(s) for s in sans]
        builder = builder.issuer_name(ca_cert.subject).add_extension(x509.SubjectAlternativeName(names), False)
    certificate = builder.sign(signing_key, hashes.SHA256())  # type: ignore[arg-type]
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _san(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)
