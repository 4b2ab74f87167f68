"""Authorized keys with sshd options: written intact, enforced by sshd, and a re-run changes nothing.

The controller's logins reach sshd through the published port from one
address (podman's gateway), read inside the host during a connection, not
assumed. Disruptive: the test converges with other keys and puts the
scenario's own back.
"""

import pytest

from helpers import converge, only_on
from testlib import controller_source, ephemeral, recap_changes, ssh

pytestmark = pytest.mark.disruptive


def key(name):
    """TYPE BASE64 of the test key id_NAME.pub (no comment)."""
    with open(ephemeral(f"id_{name}.pub"), encoding="utf-8") as handle:
        return " ".join(handle.read().split()[:2])


def test_keys_with_options_land_intact_and_sshd_enforces_them(host, published):
    only_on(host, "trixie")
    port, name = published["ssh"], host.backend.get_hostname()
    controller = controller_source(host, port)
    # Quoted values with a comma, a space and escaped quotes; the outsider's
    # key only from an address that is never the controller (TEST-NET-1).
    forced = f'from="{controller}",restrict,command="echo forced, by \\"key\\"" {key("former")} former@test'
    elsewhere = f'from="192.0.2.1",no-port-forwarding {key("outsider")} outsider@test'
    users = [{"name": "deploy", "authorized_keys": [key("admin"), forced, elsewhere]}]
    try:
        first = converge(host, ssh_hardening_admin_users=users)
        assert first.returncode == 0, first.stdout[-3000:]
        written = host.file("/home/deploy/.ssh/authorized_keys").content_string.splitlines()
        assert [line.rstrip() for line in written] == [key("admin"), forced, elsewhere]

        # sshd runs the key's command (through the shell, which drops the quotes)
        # instead of the one asked for.
        login = ssh(port, "deploy", ephemeral("id_former"), "echo asked")
        assert login.returncode == 0 and login.stdout == "forced, by key\n", login.stdout + login.stderr
        refused = ssh(port, "deploy", ephemeral("id_outsider"))
        assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
        assert ssh(port, "deploy", ephemeral("id_admin"), "true").returncode == 0

        again = converge(host, ssh_hardening_admin_users=users)
        assert again.returncode == 0 and recap_changes(again.stdout) == {name: 0}, again.stdout[-3000:]
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
    refused = ssh(port, "deploy", ephemeral("id_former"))
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
