"""The audit's client side (plugins/plugin_utils/web_probe.py), against a real TLS
server on loopback: a certificate from a throw-away CA, TLS 1.2 only, two ciphers."""

import datetime
import http.server
import importlib.util
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("web_probe", ROOT / "plugins" / "plugin_utils" / "web_probe.py")
probe = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(probe)

NAME = "site.test"
SERVER_CIPHERS = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"]


def certificate_files(tmp_path, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=90))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME), x509.DNSName("www." + NAME)]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "ca.pem"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Strict-Transport-Security", "max-age=60")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(name="server")
def fixture_server(tmp_path):
    ca = certificate_files(tmp_path, days=5)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(SERVER_CIPHERS))
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield probe.Target("127.0.0.1", NAME, https_port=httpd.server_address[1], http_port=free_port()), ca
    httpd.shutdown()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_certificate_is_verified_against_the_given_ca_and_its_expiry_read(server):
    target, ca = server
    seen = probe.certificate(target, str(ca))
    assert seen["chain"] == "verified" and seen["days_left"] == 4 and seen["names"] == [NAME, "www." + NAME]
    # The system trust store does not know the test CA.
    assert probe.certificate(target)["chain"].startswith("not verified: ")
    other = probe.Target("127.0.0.1", "other.test", https_port=target.https_port)
    assert "mismatch" in probe.certificate(other, str(ca))["chain"].lower()


def test_versions_and_ciphers_the_server_accepts(server):
    target, _ = server
    seen = probe.protocols(target)
    assert seen["accepted"] == ["TLSv1.2"]
    # Everything outside the allowed list is offered until the server refuses.
    assert probe.tls12_ciphers_beyond(target, ["ECDHE-ECDSA-AES128-GCM-SHA256"]) == ["ECDHE-ECDSA-AES128-SHA"]
    assert probe.tls12_ciphers_beyond(target, SERVER_CIPHERS) == []


def test_headers_keep_every_value_in_order(server):
    target, _ = server
    seen = probe.https_headers(target, "/")
    assert seen["status"] == 200
    assert seen["headers"]["x-frame-options"] == ["DENY", "SAMEORIGIN"]
    assert seen["headers"]["strict-transport-security"] == ["max-age=60"]


def test_an_unknown_name_answered_and_a_closed_port_are_told_apart(server):
    target, _ = server
    assert probe.unknown_name(target, "unknown.invalid") == {
        "https": "answered 200", "http": "unreachable: [Errno 111] Connection refused"}
    assert probe.reachable(target, target.https_port) == ""
    assert probe.reachable(target, target.http_port).startswith("unreachable: ")


def test_a_refused_handshake_and_a_closed_connection_are_told_apart(tmp_path):
    """nginx's default server refuses an unknown name in the handshake (ssl_reject_handshake)
    and closes plain HTTP without an answer (444): both are seen as such."""
    certificate_files(tmp_path, days=5)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    context.sni_callback = lambda sock, name, ctx: None if name == NAME else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    tls_listener, plain_listener = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))

    def serve(listener, wrap):
        conn, _ = listener.accept()
        try:
            if wrap:
                context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()
    threads = [threading.Thread(target=serve, args=(tls_listener, True), daemon=True),
               threading.Thread(target=serve, args=(plain_listener, False), daemon=True)]
    for thread in threads:
        thread.start()
    target = probe.Target("127.0.0.1", NAME, https_port=tls_listener.getsockname()[1],
                          http_port=plain_listener.getsockname()[1])
    assert probe.unknown_name(target, "unknown.invalid") == {
        "https": "handshake refused", "http": "closed without an answer"}
    for thread in threads:
        thread.join(5)
    tls_listener.close()
    plain_listener.close()
