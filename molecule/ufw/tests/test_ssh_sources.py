"""SSH only from ufw_ssh_sources: a source outside them cannot reach sshd, one inside can.

The tests act from the controller through the published SSH port. Which
address sshd sees those connections come from (podman's gateway here) is
read inside the host during a connection, not assumed. 192.0.2.1 (TEST-NET-1)
is a source that is never the controller. Disruptive: the test converges
with other sources and puts the scenario's own back.
"""

import json
import os
import re
import socket

import pytest

from testlib import controller_source, recap_changes, run_playbook

pytestmark = pytest.mark.disruptive

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERGE = os.path.join(SCENARIO, "converge.yml")
BASE = os.path.join(SCENARIO, "..", "..", "playbooks", "base.yml")
OUTSIDER = "192.0.2.1"
# UFW's `limit` counts new SSH connections per source in this list.
RECENT = "/proc/net/xt_recent/DEFAULT"


def banner(port, timeout=5.0):
    """sshd's identification line through 127.0.0.1:port, or None if it cannot be reached."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            return sock.recv(64).decode(errors="replace")
    except OSError:
        return None


def ssh_rules(host):
    """(To, Action, From) of the SSH rules (22/tcp) in `ufw status verbose`."""
    status = host.check_output("ufw status verbose")
    rules = set()
    for line in status.splitlines():
        if re.match(r"^22/tcp( \(v6\))? ", line):
            rule = line.partition(" # ")[0]
            rules.add(tuple(part.strip() for part in rule.split("  ") if part.strip()))
    return rules


def converge(host, sources=None):
    extra = ["-e", json.dumps({"ufw_ssh_sources": sources})] if sources is not None else []
    return run_playbook(CONVERGE, "--limit", host.backend.get_hostname(), *extra)


def test_ssh_reaches_the_host_only_from_the_allowed_sources(host, published):
    """Only an outsider allowed: the controller cannot reach sshd. Then playbooks/base.yml, as a
    real run applies the shared ssh_allowed_sources to an active firewall: its pre_task adds the
    controller's rule, exactly as the ufw role declares it (the role adds no SSH rule and prunes
    the outsider's), the controller connects, and a re-run changes nothing."""
    port, name = published["ssh"], host.backend.get_hostname()
    if not name.endswith("bookworm"):
        # Four playbook runs (about a minute): the same UFW (0.36.2) and the same role and
        # pre_task on both releases; converge and the other tests cover Debian 13's UFW.
        pytest.skip("covered on bookworm: the mechanism does not differ between platforms")
    host.check_output(f"echo / > {RECENT}")
    controller = controller_source(host, port)
    inventory = {"ssh_port": 22, "ssh_allowed_sources": [controller], "app_port": 8000,
                 "admin_user": "deploy", "admin_authorized_keys": ["ssh-ed25519 AAAA unused"],
                 "admin_sudo": "nopasswd", "admin_password_hash": ""}
    base = ["--tags", "ufw", "--limit", name, "-e", json.dumps(inventory)]
    try:
        only_outsider = converge(host, [OUTSIDER])
        assert only_outsider.returncode == 0, only_outsider.stdout[-3000:]
        # One limit rule for the source; the earlier any-source rules (v4, v6) are pruned.
        assert ssh_rules(host) == {("22/tcp", "LIMIT IN", OUTSIDER)}
        assert banner(port) is None

        first = run_playbook(BASE, *base)
        assert first.returncode == 0, first.stdout[-3000:]
        opened = first.stdout.partition("TASK [Open the SSH port in an active firewall")[2].partition("TASK [")[0]
        assert f"changed: [{name}] => (item=limit 22/tcp from {controller})" in opened, first.stdout[-3000:]
        added = first.stdout.partition("TASK [ufw : Add the declared rules]")[2].partition("TASK [")[0]
        assert "changed:" not in added, added
        assert ssh_rules(host) == {("22/tcp", "LIMIT IN", controller)}
        assert (banner(port) or "").startswith("SSH-2.0-")

        again = run_playbook(BASE, *base)
        assert again.returncode == 0 and recap_changes(again.stdout)[name] == 0, again.stdout[-3000:]
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
        host.check_output(f"echo / > {RECENT}")
    assert ssh_rules(host) == {("22/tcp", "LIMIT IN", "Anywhere"), ("22/tcp (v6)", "LIMIT IN", "Anywhere (v6)")}
    assert (banner(port) or "").startswith("SSH-2.0-")
