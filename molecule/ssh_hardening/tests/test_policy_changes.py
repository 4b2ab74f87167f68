"""Re-apply the role with other settings, then restore the scenario's own.

Disruptive (run after the scenario's other tests): each test converges the hosts again.
"""

import subprocess

import pytest

from helpers import ADMIN_PASSWORD, converge, effective, only_on, pub
from testlib import ephemeral, recap_changes, retry_penalised, ssh

pytestmark = pytest.mark.disruptive


def test_pq_only_leaves_no_audit_warning(host, published):
    result = converge(host, ssh_hardening_kex_policy="pq-only")
    try:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "curve25519" not in effective(host, "kexalgorithms")
        audit = retry_penalised(lambda: subprocess.run(
            ["ssh-audit", "-n", "-p", str(published["ssh"]), "127.0.0.1"],
            capture_output=True, text=True, timeout=120, check=False))
        assert "(kex) sntrup761x25519-sha512" in audit.stdout, audit.stdout + audit.stderr
        assert "[warn]" not in audit.stdout and "[fail]" not in audit.stdout, audit.stdout
        assert audit.returncode == 0
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]


def test_a_candidate_that_would_lock_the_admin_out_is_not_applied(host):
    """The admin's shell cannot run commands: the test login fails, the old sshd_config stays."""
    only_on(host, "bookworm")
    before = host.check_output("sha256sum /etc/ssh/sshd_config")
    result = converge(host, ssh_hardening_max_auth_tries=4, ssh_hardening_admin_users=[
        {"name": "deploy", "authorized_keys": [pub("admin")], "shell": "/bin/false"}])
    try:
        assert result.returncode != 0
        assert "a key login as deploy to a test sshd running the candidate failed" in result.stdout, \
            result.stdout[-3000:]
        assert host.check_output("sha256sum /etc/ssh/sshd_config") == before
        assert effective(host, "maxauthtries") == "3"
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
        assert host.user("deploy").shell == "/bin/bash"


def test_a_key_removed_from_the_inventory_stops_working(host, published):
    """The inventory is the access list: a second key works while listed, not after."""
    only_on(host, "trixie")
    with_second = converge(host, ssh_hardening_admin_users=[
        {"name": "deploy", "authorized_keys": [pub("admin"), pub("former")]}])
    try:
        assert with_second.returncode == 0, with_second.stdout[-3000:]
        assert ssh(published["ssh"], "deploy", ephemeral("id_former"), "true").returncode == 0
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
    refused = ssh(published["ssh"], "deploy", ephemeral("id_former"))
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    assert ssh(published["ssh"], "deploy", ephemeral("id_admin"), "true").returncode == 0


def test_an_admin_removed_from_the_inventory_is_locked_out(host, published):
    """alice logs in and has sudo while listed; once removed she is refused, has no
    sudo, and her account is locked and expired but kept."""
    only_on(host, "bookworm")
    admins = [{"name": "deploy", "authorized_keys": [pub("admin")]},
              {"name": "alice", "authorized_keys": [pub("former")]}]
    added = converge(host, ssh_hardening_admin_users=admins)
    assert added.returncode == 0, added.stdout[-3000:]
    assert ssh(published["ssh"], "alice", ephemeral("id_former"), "sudo -n true").returncode == 0
    removed = converge(host)
    assert removed.returncode == 0, removed.stdout[-3000:]
    refused = ssh(published["ssh"], "alice", ephemeral("id_former"))
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    assert "ssh-users" not in host.check_output("id -nG alice").split()
    assert host.check_output("passwd -S alice").split()[1] == "L"
    assert host.check_output("getent shadow alice").split(":")[7] == "1"
    assert not host.file("/etc/sudoers.d/ssh-hardening-alice").exists
    assert not host.file("/home/alice/.ssh/authorized_keys").exists
    assert host.run("sudo -l -U alice").stdout.count("may run") == 0
    again = converge(host)
    assert again.returncode == 0 and recap_changes(again.stdout) == {host.backend.get_hostname(): 0}, \
        again.stdout[-3000:]
    # Listed again, alice gets her way back in.
    restored = converge(host, ssh_hardening_admin_users=admins)
    try:
        assert restored.returncode == 0, restored.stdout[-3000:]
        assert ssh(published["ssh"], "alice", ephemeral("id_former"), "sudo -n true").returncode == 0
    finally:
        assert converge(host).returncode == 0


def test_revoking_the_account_the_run_logs_in_as_is_refused_before_any_change(host):
    only_on(host, "trixie")
    before = host.check_output("sha256sum /etc/ssh/sshd_config")
    result = converge(host, ansible_user="deploy", ssh_hardening_admin_users=[
        {"name": "alice", "authorized_keys": [pub("former")]}])
    assert result.returncode != 0
    assert "deploy, the account this run is logged in as, is no longer listed" in result.stdout, \
        result.stdout[-3000:]
    assert "ssh-users" in host.check_output("id -nG deploy").split()
    assert host.check_output("sha256sum /etc/ssh/sshd_config") == before


def test_password_sudo_asks_for_the_vaulted_password(host, published):
    """With sudo: password, the admin's key alone is not root: sudo wants the
    password whose hash the inventory holds, and refuses a wrong one."""
    only_on(host, "bookworm")
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=ADMIN_PASSWORD + "\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    result = converge(host, ssh_hardening_admin_users=[
        {"name": "deploy", "authorized_keys": [pub("admin")], "sudo": "password", "password_hash": hashed}])
    try:
        assert result.returncode == 0, result.stdout[-3000:]
        assert hashed not in result.stdout
        key = ephemeral("id_admin")
        without = ssh(published["ssh"], "deploy", key, "sudo -n true")
        assert without.returncode != 0 and "password is required" in without.stderr, without.stderr
        wrong = ssh(published["ssh"], "deploy", key, "sudo -S -p '' true", stdin="not the password\n")
        assert wrong.returncode != 0
        right = ssh(published["ssh"], "deploy", key, "sudo -S -p '' id -u", stdin=ADMIN_PASSWORD + "\n")
        assert right.returncode == 0 and right.stdout.strip() == "0", right.stderr
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
    assert ssh(published["ssh"], "deploy", ephemeral("id_admin"), "sudo -n true").returncode == 0
