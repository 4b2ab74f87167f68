"""roles/ssh_hardening/files/ssh-hardening-check: which source addresses the policy check tries.

The sshd parts run in the molecule scenarios (this machine has no sshd); the
addresses it derives from `Match Address` lines are checked here.
"""

import importlib.machinery
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_loader = importlib.machinery.SourceFileLoader("ssh_hardening_check",
                                               str(ROOT / "roles/ssh_hardening/files/ssh-hardening-check"))
check = importlib.util.module_from_spec(importlib.util.spec_from_loader(_loader.name, _loader))
_loader.exec_module(check)


@pytest.mark.parametrize("pattern, address", [
    ("10.88.0.0/16", "10.88.0.1"),
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8::/64", "2001:db8::1"),
    ("10.1.*", "10.1.1.1"),
    ("172.2?.*.*", "172.21.1.1"),
    ("*", "1.1.1.1"),
    ("!10.0.0.0/8", None),
    ("vpn.example.com", None),
])
def test_one_address_inside_each_pattern(pattern, address):
    assert check.inside(pattern) == address


def test_match_address_lines_of_every_file_are_read(tmp_path):
    first, second = tmp_path / "70-vpn.conf", tmp_path / "80-office.conf"
    first.write_text("Match Address 10.88.0.0/16,!10.88.1.0/24\n  PasswordAuthentication yes\n")
    second.write_text("# Match Address 203.0.113.0/24 is a comment\nmatch User ops Address 100.64.0.0/10\n")
    assert check.matched_addresses([first, second, tmp_path / "missing.conf"]) == ["10.88.0.1", "100.64.0.1"]
