"""Re-converging this scenario's hosts with other settings, and reading what sshd makes of its files."""

import json
import os

import pytest

from testlib import ephemeral, run_playbook

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERGE = os.path.join(SCENARIO, "converge.yml")
# The admin's password (prepare.yml): refusing passwords has to mean something.
ADMIN_PASSWORD = "correct horse battery staple"


def converge(host, **extra):
    """Apply converge.yml to this host only, with extra vars (-e) on top."""
    args = ["--limit", host.backend.get_hostname()]
    if extra:
        args += ["-e", json.dumps(extra)]
    return run_playbook(CONVERGE, *args)


def pub(name):
    """The public key ephemeral/id_NAME.pub."""
    with open(ephemeral(f"id_{name}.pub"), encoding="utf-8") as handle:
        return handle.read().strip()


def effective(host, keyword, address="192.0.2.7"):
    """sshd's effective value of keyword for deploy connecting from address."""
    out = host.check_output(f"sshd -T -C user=deploy,host=example.test,addr={address}")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)[keyword]


def only_on(host, platform):
    """Skip on the other platform: for account and sudo mechanics that do not differ
    between Debian 12 and 13 (usermod, gpasswd, sudoers, authorized_keys), and for
    the refusals the role makes before it changes sshd (the drop-in scan, the
    candidate's test login, the revoked login account), one platform proves them
    and the scenario stays inside bin/test's time budget. What does differ (the
    policy's algorithms, a port change with ssh.socket on Debian 13) runs on both."""
    if not host.backend.get_hostname().endswith(platform):
        pytest.skip(f"covered on {platform}: the mechanism does not differ between platforms")
