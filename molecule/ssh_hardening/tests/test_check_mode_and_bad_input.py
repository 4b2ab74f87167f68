"""Check mode on the converged host, and bad input refused before any change."""

import os

import pytest

from testlib import assert_check_mode_clean, assert_fails_before_any_change

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = ("sha256sum /etc/ssh/sshd_config /etc/passwd /etc/group /etc/ssh/moduli; "
         "ls /etc/ssh /etc/sudoers.d; cat /home/*/.ssh/authorized_keys")


def test_check_mode_reports_no_change():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=2)


BAD = [
    ("empty key list", {"admin_keys": []}, "ssh_hardening_admin_users"),
    ("not a public key", {"admin_keys": ["-----BEGIN OPENSSH PRIVATE KEY----- abc"]},
     "authorized_keys"),
    ("garbage key", {"admin_keys": ["ssh-ed25519 bm90IGEga2V5"]}, "authorized_keys"),
    ("port out of range", {"ssh_hardening_port": 70000}, "ssh_hardening_port"),
    ("port used by another service", {"ssh_hardening_port": 2022}, "ssh_hardening_port"),
    ("admin named root", {"admin_name": "root"}, "ssh_hardening_admin_users"),
    ("unknown sudo mode", {"ssh_hardening_admin_users": [{"name": "x", "authorized_keys": ["k"],
                                                          "sudo": "always"}]}, "sudo"),
    ("key options unquoted", {"admin_keys": ["from=10.0.0.1,bogus ssh-ed25519 "
                                             "AAAAC3NzaC1lZDI1NTE5AAAAIMMbDsh8yFeOZnmPMXa/rrRcHXLhsokiTp+tefV0sG2K"]},
     "must be in double quotes"),
    ("password sudo without a hash", {"ssh_hardening_admin_users": [{"name": "deploy", "authorized_keys": ["k"],
                                                                     "sudo": "password"}]}, "password_hash is empty"),
    ("unknown drop-in policy", {"ssh_hardening_unsafe_dropins": "warn"}, "ssh_hardening_unsafe_dropins"),
]


@pytest.mark.parametrize("extra,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"), extra, needle, STATE)
