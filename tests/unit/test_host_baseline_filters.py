"""host_baseline's sysctl filter: what differs is applied, in an order the kernel keeps."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    "sysctl_state", ROOT / "roles" / "host_baseline" / "filter_plugins" / "sysctl_state.py")
sysctl_state = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sysctl_state)
pending = sysctl_state.sysctl_pending


def test_only_settings_that_differ():
    lines = ["net.ipv4.tcp_syncookies = 1", "net.ipv4.conf.all.rp_filter = 2"]
    settings = {"net.ipv4.tcp_syncookies": 1, "net.ipv4.conf.all.rp_filter": 1}
    assert pending(settings, lines) == ["net.ipv4.conf.all.rp_filter=1"]


def test_keys_the_kernel_does_not_know_are_left_out():
    assert pending({"net.core.bpf_jit_harden": 2}, []) == []


def test_prefixes_keep_only_the_namespaced_keys():
    lines = ["kernel.kptr_restrict = 0", "net.ipv4.tcp_syncookies = 0"]
    settings = {"kernel.kptr_restrict": 2, "net.ipv4.tcp_syncookies": 1}
    assert pending(settings, lines, prefixes=["net"]) == ["net.ipv4.tcp_syncookies=1"]
    assert pending(settings, lines) == ["kernel.kptr_restrict=2", "net.ipv4.tcp_syncookies=1"]


def test_multi_field_values_compare_by_fields():
    lines = ["net.ipv4.ip_local_port_range = 32768\t60999"]
    assert pending({"net.ipv4.ip_local_port_range": "32768 60999"}, lines) == []
    assert pending({"net.ipv4.ip_local_port_range": "1024  65000"}, lines) == [
        "net.ipv4.ip_local_port_range=1024 65000"]


def test_forwarding_first_then_accept_redirects_again():
    # Measured in a podman container that inherits forwarding on: accept_redirects
    # reads 0 until ip_forward=0 is written, which sets it to 1.
    lines = ["net.ipv4.conf.all.accept_redirects = 0", "net.ipv4.tcp_syncookies = 0", "net.ipv4.ip_forward = 1"]
    settings = {"net.ipv4.conf.all.accept_redirects": 0, "net.ipv4.tcp_syncookies": 1, "net.ipv4.ip_forward": 0}
    assert pending(settings, lines) == [
        "net.ipv4.ip_forward=0", "net.ipv4.tcp_syncookies=1", "net.ipv4.conf.all.accept_redirects=0"]


def test_unchanged_forwarding_adds_nothing():
    lines = ["net.ipv4.conf.all.accept_redirects = 0", "net.ipv4.ip_forward = 0"]
    assert pending({"net.ipv4.conf.all.accept_redirects": 0, "net.ipv4.ip_forward": 0}, lines) == []


def test_drift_shows_the_running_and_the_wanted_value_of_what_differs():
    lines = ["net.ipv4.conf.all.send_redirects = 1", "net.ipv4.tcp_syncookies = 1", "kernel.kptr_restrict = 0"]
    settings = {"net.ipv4.conf.all.send_redirects": 0, "net.ipv4.tcp_syncookies": 1, "kernel.kptr_restrict": 2,
                "kernel.unknown_key": 1}
    assert sysctl_state.sysctl_drift(settings, lines) == {
        "observed": {"net.ipv4.conf.all.send_redirects": "1", "kernel.kptr_restrict": "0"},
        "expected": {"net.ipv4.conf.all.send_redirects": "0", "kernel.kptr_restrict": "2"}}
    # A container compares only its own network namespace's keys.
    assert sysctl_state.sysctl_drift(settings, lines, ["net"])["expected"] == {"net.ipv4.conf.all.send_redirects": "0"}
    assert sysctl_state.sysctl_drift({"net.ipv4.tcp_syncookies": 1}, lines) == {"observed": {}, "expected": {}}
