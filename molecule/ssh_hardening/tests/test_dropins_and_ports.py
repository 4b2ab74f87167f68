"""Doors opened after the first run, and a port change, on a plain and a socket-activated sshd.

Disruptive: each test converges the host again and puts the scenario's settings back.
"""

import re
import socket

import pytest

from helpers import ADMIN_PASSWORD, converge, only_on
from testlib import ephemeral, password_login, ssh

pytestmark = pytest.mark.disruptive

ADMIN_KEY = ephemeral("id_admin")
OUTSIDER_KEY = ephemeral("id_outsider")
DROPINS = "/etc/ssh/sshd_config.d"
# Connections through the published port reach the container from the podman
# gateway (10.88.0.1): a range the synthetic source addresses of a fixed
# check (10.0.0.10, 192.0.2.10, ...) never fall in.
PASSWORDS = f"{DROPINS}/70-vpn.conf"
KEYS = f"{DROPINS}/71-keys.conf"
KEYS_SCRIPT = "/usr/local/bin/keys-for"


def add_doors(host):
    """What an intruder or a careless colleague leaves behind: passwords for the
    VPN range, and a key command that hands deploy's account to the outsider's key."""
    with open(OUTSIDER_KEY + ".pub", encoding="utf-8") as handle:
        key = handle.read().strip()
    # Each method alone suffices (OpenSSH 9.2 refuses "any" after a global value).
    host.run_expect([0], f"printf 'Match Address 10.88.0.0/16\\n  PasswordAuthentication yes\\n"
                         f"  KbdInteractiveAuthentication yes\\n"
                         f"  AuthenticationMethods publickey password keyboard-interactive\\n' > {PASSWORDS}")
    host.run_expect([0], f"printf '#!/bin/sh\\necho \"{key}\"\\n' > {KEYS_SCRIPT} && chmod 0755 {KEYS_SCRIPT}"
                         f" && printf 'Match User deploy\\n  AuthorizedKeysCommand {KEYS_SCRIPT}\\n"
                         f"  AuthorizedKeysCommandUser nobody\\n' > {KEYS}")
    host.run_expect([0], "systemctl restart ssh.service")


def named(output, name):
    """The keywords the run's failure message names for drop-in `name`."""
    found = re.search(re.escape(name) + r" \(([^)]*)\)", output)
    return set(found.group(1).split(", ")) if found else set()


def test_drop_ins_that_reopen_doors_are_disabled_by_the_next_run(host, published):
    only_on(host, "trixie")
    add_doors(host)
    try:
        # The doors are open: a password and a stranger's key both get in.
        assert password_login(published["ssh"], "deploy", ADMIN_PASSWORD).returncode == 0
        assert ssh(published["ssh"], "deploy", OUTSIDER_KEY).returncode == 0

        state = f"sha256sum /etc/ssh/sshd_config; ls {DROPINS}"
        before = host.check_output(state)
        refused = converge(host, ssh_hardening_unsafe_dropins="fail")
        assert refused.returncode != 0
        assert {"Match", "PasswordAuthentication"} <= named(refused.stdout, "70-vpn.conf"), refused.stdout[-3000:]
        assert {"Match", "AuthorizedKeysCommand"} <= named(refused.stdout, "71-keys.conf"), refused.stdout[-3000:]
        assert "50-cloud-init.conf" not in refused.stdout
        assert host.check_output(state) == before

        fixed = converge(host)
        assert fixed.returncode == 0, fixed.stdout[-3000:]
        for path in (PASSWORDS, KEYS):
            assert not host.file(path).exists and host.file(path + ".disabled").exists
        # The trusted cloud-init drop-in stays: the pinned values beat it.
        assert host.file(f"{DROPINS}/50-cloud-init.conf").exists
        password = password_login(published["ssh"], "deploy", ADMIN_PASSWORD)
        assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr, password.stderr
        stranger = ssh(published["ssh"], "deploy", OUTSIDER_KEY)
        assert stranger.returncode == 255 and "Permission denied" in stranger.stderr, stranger.stderr
    finally:
        host.run_expect([0], f"rm -f {PASSWORDS}* {KEYS}* {KEYS_SCRIPT} && systemctl restart ssh.service")


def test_a_port_change_is_live_after_the_run(host, published):
    """On Debian 13 sshd runs from ssh.socket here (prepare.yml): the socket moves too."""
    address = host.check_output("hostname -I").split()[0]
    moved = converge(host, ssh_hardening_port=2200, ssh_hardening_probe_host=address, ssh_hardening_probe_port=2200)
    try:
        assert moved.returncode == 0, moved.stdout[-3000:]
        result = ssh(2200, "deploy", ADMIN_KEY, "true", address=address)
        assert result.returncode == 0, result.stderr
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, 22), timeout=5).close()
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
    assert ssh(published["ssh"], "deploy", ADMIN_KEY).returncode == 0
