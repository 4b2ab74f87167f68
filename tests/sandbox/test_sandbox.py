"""The README's main command: `bin/sandbox up` twice, then `bin/sandbox down`.

Runs the real thing (a systemd container, site.yml over SSH on 127.0.0.1).
A sandbox that already existed is used and left running; one these tests
created is torn down by `bin/sandbox down`, which is checked too (the
fixture `runs`, in conftest.py, shared with test_audit.py).
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from sandboxlib import ENV, NAME, ROOT, UFW_LIMIT_WINDOW, recap, ssh

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
    assert head.startswith("HTTP/1.1 200"), head  # not Django's redirect to HTTPS: it saw HTTPS
    assert json.loads(body) == {"status": "ok"}


def test_a_role_runs_by_fqcn_from_the_built_collection(runs, tmp_path):
    """ansible-galaxy builds the collection, installs the tarball, and a role from
    that copy (not the checkout) runs against the sandbox, changing nothing."""
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, ROOT],
                   check=True, capture_output=True)
    subprocess.run([bin_dir / "ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p",
                    tmp_path / "cols", tmp_path / "hardening-stack-1.0.0.tar.gz"], cwd=tmp_path, check=True,
                   capture_output=True)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")  # not the checkout's (its collections/ link)
    (tmp_path / "play.yml").write_text("""
- hosts: sandbox
  become: true
  gather_facts: false
  roles:
    - role: hardening.stack.ssh_hardening
      ssh_hardening_port: "{{ ssh_port }}"
      ssh_hardening_admin_users:
        - {name: "{{ admin_user }}", authorized_keys: "{{ admin_authorized_keys }}", sudo: nopasswd}
""")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "cols"), ANSIBLE_ROLES_PATH=str(tmp_path / "none"),
               ANSIBLE_NOCOLOR="1")

    def play():
        return subprocess.run([bin_dir / "ansible-playbook", "-i", ROOT / "inventories" / "sandbox", "play.yml"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    done = play()
    if "UNREACHABLE" in done.stdout:
        time.sleep(UFW_LIMIT_WINDOW)
        done = play()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert str(tmp_path / "cols") in subprocess.run(
        [bin_dir / "ansible-galaxy", "collection", "list", "hardening.stack"], cwd=tmp_path, env=env,
        capture_output=True, text=True, check=True).stdout
    counts = recap(done.stdout)
    assert counts["failed"] == 0 and counts["changed"] == 0 and counts["ok"] > 10, counts
