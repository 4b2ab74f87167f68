"""The firewall as a user meets it: exact rule set, open and closed ports, SSH kept."""

import os
import socket
import urllib.error
import urllib.request

import pytest

from testlib import run_playbook

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HEADER = [
    "Status: active",
    "Logging: on (medium)",
    "Default: deny (incoming), allow (outgoing), deny (routed)",
    "New profiles: skip",
]
# (To, Action, From, comment) of every rule converge.yml and prepare.yml leave.
RULES = {
    ("5432/tcp", "ALLOW IN", "192.0.2.0/24", "user db"),
    ("9999/udp", "ALLOW IN", "Anywhere", ""),
    ("9999/udp (v6)", "ALLOW IN", "Anywhere (v6)", ""),
    ("22/tcp", "LIMIT IN", "Anywhere", "managed:ufw-role ssh"),
    ("22/tcp (v6)", "LIMIT IN", "Anywhere (v6)", "managed:ufw-role ssh"),
    ("80/tcp", "ALLOW IN", "Anywhere", "managed:ufw-role probe web"),
    ("80/tcp (v6)", "ALLOW IN", "Anywhere (v6)", "managed:ufw-role probe web"),
    ("5353/udp", "ALLOW IN", "10.0.0.0/8", "managed:ufw-role mdns"),
    ("123", "ALLOW IN", "198.51.100.7", "managed:ufw-role rule"),
    ("6000:6010/tcp", "ALLOW IN", "2001:db8::/32", "managed:ufw-role v6 range"),
}


def status_rules(text):
    """The rule lines of `ufw status verbose` as (To, Action, From, comment)."""
    lines = text.splitlines()
    start = lines.index("--                         ------      ----") + 1
    rules = []
    for line in lines[start:]:
        if not line.strip():
            continue
        rule, _, comment = line.partition(" # ")
        fields = [part.strip() for part in rule.rstrip().split("  ") if part.strip()]
        rules.append((fields[0], fields[1], fields[2], comment.strip()))
    return rules


def http_get(port, timeout=5.0):
    """Body of http://127.0.0.1:port/ from the host, or None if it cannot be reached."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return response.read().decode()
    except (OSError, urllib.error.URLError):
        return None


def ssh_banner(port, sock=None):
    """The SSH identification line read from 127.0.0.1:port (a new connection unless sock)."""
    own = sock is None
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        return sock.recv(64).decode(errors="replace")
    finally:
        if own:
            sock.close()


def test_status_lists_exactly_the_declared_rules(host):
    status = host.check_output("ufw status verbose")
    assert status.splitlines()[:4] == HEADER, status
    rules = status_rules(status)
    assert len(rules) == len(set(rules)), status
    assert set(rules) == RULES, status


def test_stale_managed_rule_is_gone_and_user_rules_are_kept(host):
    rules = host.check_output("cat /etc/ufw/user.rules /etc/ufw/user6.rules")
    assert "8081" not in rules
    assert "### tuple ### allow tcp 5432 0.0.0.0/0 any 192.0.2.0/24 in" in rules
    assert "### tuple ### allow udp 9999 ::/0 any ::/0 in" in rules


def test_ipv6_on_and_enabled_at_boot(host):
    assert host.file("/etc/default/ufw").contains("^IPV6=yes$")
    assert host.file("/etc/ufw/ufw.conf").contains("^ENABLED=yes$")
    assert host.service("ufw").is_enabled


def test_allowed_port_is_reachable_from_outside(host, published):
    assert http_get(published["http"]) == f"ufw probe on {host.backend.get_hostname()}\n"


def test_denied_port_answers_inside_but_not_from_outside(host, published):
    inside = host.run("python3 -c \"import urllib.request as u;"
                      " print(u.urlopen('http://127.0.0.1:443/', timeout=5).read().decode())\"")
    assert inside.rc == 0 and "ufw probe" in inside.stdout, inside.stderr
    assert http_get(published["https"], timeout=4) is None


@pytest.mark.disruptive
def test_denied_port_is_reachable_with_ufw_disabled(host, published):
    """Control: the published port reaches the container's INPUT chain, so only UFW blocks it."""
    try:
        host.check_output("ufw disable")
        assert http_get(published["https"]) == f"ufw probe on {host.backend.get_hostname()}\n"
    finally:
        host.check_output("ufw --force enable")
    assert http_get(published["https"], timeout=4) is None


@pytest.mark.disruptive
def test_ssh_session_survives_disable_and_reapply(host, published):
    port = int(published["ssh"])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        assert ssh_banner(port, sock).startswith("SSH-2.0-")
        host.check_output("ufw disable")
        assert ssh_banner(port).startswith("SSH-2.0-")
        result = run_playbook(os.path.join(SCENARIO, "converge.yml"), "--limit", host.backend.get_hostname())
        assert result.returncode == 0, result.stdout[-3000:]
        assert host.check_output("ufw status").startswith("Status: active")
        # The connection opened before all this still carries SSH: the server
        # answers our identification with its key exchange offer.
        sock.sendall(b"SSH-2.0-ufw_test\r\n")
        assert len(sock.recv(256)) > 0
        assert ssh_banner(port).startswith("SSH-2.0-")
    finally:
        sock.close()
        host.run("ufw --force enable")


@pytest.mark.parametrize("port,proto", [("22", "tcp"), ("80", "tcp")])
def test_iptables_hold_the_rules(host, port, proto):
    rules = host.check_output("iptables -S ufw-user-input")
    assert f"-p {proto} --dport {port}" in rules or f"-p {proto} -m {proto} --dport {port}" in rules, rules
