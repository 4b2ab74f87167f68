"""The README's main command: `bin/sandbox up` twice, then `bin/sandbox down`.

Runs the real thing (a systemd container, site.yml over SSH on 127.0.0.1).
A sandbox that already existed is used and left running; one this test
created is torn down by `bin/sandbox down`, which is checked too.
"""

import json
import os
import re
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "testbed" / "containers.conf"), ANSIBLE_NOCOLOR="1")
NAME = "hardening-sandbox"


def sandbox(*args):
    return subprocess.run([str(ROOT / "bin" / "sandbox"), *args], capture_output=True, text=True,
                          timeout=1800, env=ENV, check=False)


def exists():
    return subprocess.run(["podman", "container", "exists", NAME], env=ENV, check=False).returncode == 0


def recap(output):
    match = re.search(r"^sandbox\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert match, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def ssh(user):
    state = ROOT / ".sandbox"
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-p", "2222", "-i", str(state / "id_ed25519"), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={state / 'known_hosts'}", "-o", "IdentitiesOnly=yes",
         f"{user}@127.0.0.1", "id -un"], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def runs():
    existed = exists()
    first = sandbox("up")
    second = sandbox("up")
    yield existed, first, second
    if not existed:
        down = sandbox("down")
        assert down.returncode == 0, down.stderr
        assert not exists()
        assert not (ROOT / ".sandbox").exists()


def test_first_run_converges(runs):
    _, first, _ = runs
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert recap(first.stdout)["failed"] == 0
    assert "bin/sandbox down" in first.stdout


def test_second_run_changes_nothing_and_logs_in_as_the_admin(runs):
    _, _, second = runs
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert "running site.yml as deploy" in second.stdout
    assert recap(second.stdout)["changed"] == 0


def test_ports_are_published_on_loopback_only(runs):
    ports = subprocess.run(["podman", "port", NAME], capture_output=True, text=True, env=ENV,
                           check=True).stdout.split("\n")
    ports = [line for line in ports if line.strip()]
    assert len(ports) == 3 and all("-> 127.0.0.1:" in line for line in ports), ports


def test_admin_logs_in_and_root_is_refused(runs):
    admin = ssh("deploy")
    assert admin.returncode == 0 and admin.stdout.strip() == "deploy", admin.stderr
    root = ssh("root")
    assert root.returncode == 255 and "Permission denied" in root.stderr


def test_https_serves_the_app_with_a_certificate_from_the_sandbox_ca(runs):
    """The example app over https://sandbox.test:8443, the chain checked against Pebble's root."""
    context = ssl.create_default_context(cafile=str(ROOT / ".sandbox" / "pebble-root.pem"))
    with socket.create_connection(("127.0.0.1", 8443), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="sandbox.test") as tls:
            tls.sendall(b"GET /health/ HTTP/1.1\r\nHost: sandbox.test\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    assert json.loads(body)["secure"] is True


def test_http_redirects_to_https(runs):
    with socket.create_connection(("127.0.0.1", 8080), timeout=20) as raw:
        raw.sendall(b"GET /guestbook/ HTTP/1.1\r\nHost: sandbox.test\r\nConnection: close\r\n\r\n")
        head = raw.recv(65536).decode()
    assert head.startswith("HTTP/1.1 301") and "Location: https://sandbox.test/guestbook/\r\n" in head, head
