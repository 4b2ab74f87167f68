"""Check mode on the converged host, and bad input refused before any change."""

import json
import os

import pytest

from testlib import (assert_check_mode_clean, assert_fails_before_any_change, recap_changes,
                     run_playbook_check)

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = ("sha256sum /etc/ufw/user.rules /etc/ufw/user6.rules /etc/default/ufw /etc/ufw/ufw.conf;"
         " ufw status verbose")


def test_check_mode_reports_no_change():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=2)


def test_check_mode_shows_what_would_change():
    result = run_playbook_check(os.path.join(SCENARIO, "converge.yml"),
                                "-e", json.dumps({"ufw_logging": "high"}))
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(recap_changes(result.stdout).values()) == {1}, result.stdout[-3000:]


BAD = [
    ("bad port", {"ufw_rules": [{"port": 70000}]}, "ufw_rules[0].port"),
    ("port not a number", {"ufw_rules": [{"port": "http"}]}, "ufw_rules[0].port"),
    ("bad CIDR", {"ufw_rules": [{"port": 80, "from": "10.0.0.300/8"}]}, "ufw_rules[0].from"),
    ("CIDR with host bits", {"ufw_rules": [{"port": 80, "from": "10.1.2.3/8"}]}, "ufw_rules[0].from"),
    ("unknown protocol", {"ufw_rules": [{"port": 80, "proto": "icmp"}]}, "proto"),
    ("no SSH port", {"ufw_ssh_port": None}, "ufw_ssh_port"),
    ("SSH port out of range", {"ufw_ssh_port": 0}, "ufw_ssh_port"),
    ("SSH port not a number", {"ufw_ssh_port": "ssh"}, "ufw_ssh_port"),
    ("SSH source a host name", {"ufw_ssh_sources": ["bastion.example.com"]}, "ufw_ssh_sources[0]"),
    ("app port open to nobody", {"ufw_app_port_open": True}, "ufw_app_allowed_sources"),
    ("app source any", {"ufw_app_port_open": True, "ufw_app_allowed_sources": ["any"]},
     "ufw_app_allowed_sources"),
]


@pytest.mark.parametrize("extra,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"), extra, needle, STATE)
