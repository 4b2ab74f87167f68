"""Check mode on the converged host, and bad input refused before any change."""

import os

import pytest

from testlib import assert_check_mode_clean, assert_fails_before_any_change

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = ("sha256sum /etc/sysctl.d/60-host-baseline.conf /etc/login.defs /etc/modprobe.d/60-host-baseline.conf"
         " /etc/apt/apt.conf.d/52host-baseline-unattended-upgrades; sysctl net.ipv4.conf.all.log_martians")


def test_check_mode_reports_no_change():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=2)


BAD = [
    ("sysctl key malformed", {"host_baseline_sysctl": {"net..ipv4.ip_forward": 1}}, "host_baseline_sysctl"),
    ("sysctl key not a sysctl", {"host_baseline_sysctl": {"ip_forward": 1}}, "is not a sysctl key"),
    ("sysctl value a boolean", {"host_baseline_sysctl": {"net.ipv4.ip_forward": True}},
     "host_baseline_sysctl[net.ipv4.ip_forward]"),
    ("sysctl value injects a line", {"host_baseline_sysctl": {"net.ipv4.ip_forward": "1\nkernel.sysrq = 1"}},
     "host_baseline_sysctl[net.ipv4.ip_forward]"),
    ("reboot time out of range", {"host_baseline_updates_reboot_time": "25:00"}, "host_baseline_updates_reboot_time"),
    ("reboot time not a time", {"host_baseline_updates_reboot_time": "2am"}, "host_baseline_updates_reboot_time"),
    ("module name", {"host_baseline_blocked_modules": ["dccp /bin/true"]}, "host_baseline_blocked_modules[0]"),
    ("umask unquoted", {"host_baseline_login_defs": {"UMASK": 27}}, "host_baseline_login_defs[UMASK]"),
    ("banner with getty escapes", {"host_baseline_banner": "Debian \\r"}, "host_baseline_banner"),
    ("time server with a port", {"host_baseline_time_servers": ["ntp.example.com:123"]},
     "host_baseline_time_servers[0]"),
    ("journal size", {"host_baseline_journald_max_use": "lots"}, "host_baseline_journald_max_use"),
]


@pytest.mark.parametrize("extra,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"), extra, needle, STATE)
