"""Kernel and network settings: the file, the net.* values in force (also after
`ufw reload` and a container restart), and the test machine's own kernel left
alone."""

import importlib.util
import os
import subprocess
import time

import pytest

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location("sysctl_snapshot", os.path.join(SCENARIO, "sysctl_snapshot.py"))
snapshot = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(snapshot)

SYSCTL_FILE = "/etc/sysctl.d/60-host-baseline.conf"
# A sample of the role's defaults, and what converge.yml adds or overrides.
EXPECTED = {
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv4.conf.default.log_martians": "1",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.icmp_ignore_bogus_error_responses": "1",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.ip_forward": "0",
    "net.ipv4.tcp_rfc1337": "1",
    "net.ipv4.icmp_ratelimit": "500",
}
FILE_ONLY = {
    "kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.yama.ptrace_scope": "1",
    "fs.suid_dumpable": "0", "fs.protected_fifos": "2", "fs.protected_regular": "2",
    "kernel.unprivileged_bpf_disabled": "2", "kernel.perf_event_paranoid": "3",
}


def file_settings(host):
    lines = host.file(SYSCTL_FILE).content_string.splitlines()
    return dict((part.strip() for part in line.split("=", 1)) for line in lines
                if "=" in line and not line.lstrip().startswith("#"))


def running(host, keys):
    """The values in force, read in one command (each command is a round trip)."""
    lines = host.check_output("sysctl -e " + " ".join(keys)).splitlines()
    return {key.strip(): " ".join(value.split()) for key, _, value in (line.partition(" = ") for line in lines)}


def test_one_file_holds_every_setting(host):
    assert host.file(SYSCTL_FILE).mode == 0o644
    settings = file_settings(host)
    for key, value in {**EXPECTED, **FILE_ONLY}.items():
        assert settings.get(key) == value, key
    assert host.file(SYSCTL_FILE).content_string.startswith("# ")


def test_net_settings_are_in_force(host):
    assert running(host, EXPECTED) == EXPECTED


def test_net_settings_hold_after_ufw_reload(host):
    assert host.file("/etc/default/ufw").contains("^IPT_SYSCTL=$")
    host.check_output("ufw reload")
    assert running(host, EXPECTED) == EXPECTED


def test_systemd_sysctl_applies_only_net_keys_in_the_container(host):
    unit = host.check_output("systemctl cat systemd-sysctl.service")
    assert "60-host-baseline-container.conf" in unit
    exec_lines = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert exec_lines[-1] == "ExecStart=/lib/systemd/systemd-sysctl --prefix=/net", exec_lines
    assert host.check_output("systemd-detect-virt --container") != "none"


@pytest.mark.disruptive(order=0)
def test_net_settings_hold_after_a_container_restart(host):
    """A new boot: a fresh network namespace, then systemd-sysctl applies the
    file's net.* keys (and only those: the next test reads the machine's)."""
    name = host.backend.get_hostname()
    subprocess.run(["podman", "restart", "--time", "20", name], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 90
    while host.run("systemctl is-system-running").stdout.strip() not in ("running", "degraded"):
        assert time.monotonic() < deadline, host.run("systemctl list-jobs --no-pager").stdout
        time.sleep(1)
    assert host.run("systemctl is-failed --quiet systemd-sysctl.service").rc != 0
    assert running(host, EXPECTED) == EXPECTED


# Last: after converge, the checks above and the containers' restarts.
@pytest.mark.disruptive(order=1)
def test_the_test_machines_kernel_and_fs_settings_did_not_change():
    """Read on this machine (it runs the containers and shares their kernel),
    against what prepare.yml recorded before converge."""
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "sysctl-before.txt")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: prepare.yml records it before converge")
    with open(path, encoding="utf-8") as handle:
        before = snapshot.load(handle.read())
    after = snapshot.snapshot()
    changed = {key: (before[key], after.get(key)) for key in before if after.get(key) != before[key]}
    assert not changed, changed
    # The keys the role's file sets on a real host were among those compared.
    assert {"kernel.kptr_restrict", "kernel.dmesg_restrict", "fs.suid_dumpable", "fs.protected_fifos"} <= set(before)


def test_core_dumps_are_off_for_a_new_login(host):
    limits = host.file("/etc/security/limits.d/60-host-baseline.conf").content_string
    assert "*       hard    core    0" in limits and "root    hard    core    0" in limits
    assert host.check_output("su - coretest -c 'ulimit -Hc'") == "0"
    assert host.check_output("su - coretest -c 'ulimit -Sc'") == "0"
    coredump = host.file("/etc/systemd/coredump.conf.d/60-host-baseline.conf").content_string
    assert "Storage=none" in coredump and "ProcessSizeMax=0" in coredump


BLOCKED = ["cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "usb-storage", "dccp", "sctp", "rds", "tipc"]


def test_blocked_modules_have_their_rules(host):
    config = host.check_output("modprobe --showconfig").splitlines()
    for module in BLOCKED:
        # modprobe prints module names with underscores (usb-storage: usb_storage).
        name = module.replace("-", "_")
        assert f"install {name} /bin/false" in config, module
        assert f"blacklist {name}" in config, module
    # What loading one on demand would run.
    dry_run = host.run("modprobe -n -v dccp")
    assert "install /bin/false" in dry_run.stdout + dry_run.stderr, dry_run.stdout + dry_run.stderr


def test_squashfs_udf_and_overlay_are_not_blocked(host):
    config = host.check_output("modprobe --showconfig").splitlines()
    for module in ("squashfs", "udf", "overlay"):
        assert f"install {module} /bin/false" not in config, module
