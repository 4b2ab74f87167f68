"""Check mode on the converged host, and bad input refused before any change."""

import os

import pytest

from testlib import assert_check_mode_clean, assert_fails_before_any_change

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = ("sha256sum /etc/sysctl.d/60-host-baseline.conf /etc/login.defs /etc/modprobe.d/60-host-baseline.conf"
         " /etc/apt/apt.conf.d/52host-baseline-unattended-upgrades; sysctl net.ipv4.conf.all.log_martians")


def test_check_mode_reports_no_change():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=2)


# Each rule is unit-tested (tests/unit/test_validators.py); here one case per
# kind of harm, on one platform: the run stops before anything on the host moves.
BAD = [
    ("sysctl key unknown to the kernel", {"host_baseline_sysctl": {"net.ipv4.tcp_syncookie": 1}},
     "net.ipv4.tcp_syncookie is not known to this kernel"),
    ("reboot time not a time", {"host_baseline_updates_reboot_time": "2am"}, "host_baseline_updates_reboot_time"),
    ("sysctl value injects a line", {"host_baseline_sysctl": {"net.ipv4.ip_forward": "1\nkernel.sysrq = 1"}},
     "host_baseline_sysctl[net.ipv4.ip_forward]"),
    ("module name", {"host_baseline_blocked_modules": ["dccp /bin/true"]}, "host_baseline_blocked_modules[0]"),
    ("banner with getty escapes", {"host_baseline_banner": "Debian \\r"}, "host_baseline_banner"),
]


@pytest.mark.parametrize("extra,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    if "trixie" in host.backend.get_hostname():
        pytest.skip("input validation does not depend on the platform: checked on Debian 12 only")
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"), extra, needle, STATE)
