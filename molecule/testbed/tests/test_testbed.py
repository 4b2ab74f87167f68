"""The test bed works: systemd, published ports, the host's CA inside."""

import urllib.request


def test_systemd_is_pid_1_and_running(host):
    assert host.check_output("ps -o comm= -p 1") == "systemd"
    state = host.run("systemctl is-system-running --wait").stdout.strip()
    assert state == "running", host.run("systemctl --failed --no-legend").stdout


def test_sshd_runs_with_fresh_host_keys(host):
    assert host.service("ssh").is_running
    assert host.file("/etc/ssh/ssh_host_ed25519_key").exists


def test_published_port_reaches_service_inside(host, published):
    with urllib.request.urlopen(f"http://127.0.0.1:{published['http']}/", timeout=10) as response:
        body = response.read().decode()
    assert body == f"testbed probe on {host.backend.get_hostname()}\n"


def test_published_ports_listen_on_loopback_only(host):
    name = host.backend.get_hostname()
    ports = host.backend.run_local(f"podman port {name}").stdout
    lines = [line for line in ports.splitlines() if line.strip()]
    assert lines, "no published ports"
    assert all("-> 127.0.0.1:" in line for line in lines), ports


def test_pip_installs_from_pypi_inside(host):
    result = host.run(
        "rm -rf /tmp/piptest && python3 -m venv /tmp/piptest"
        " && /tmp/piptest/bin/pip download --no-deps -q -d /tmp/piptest/dl six"
        " && ls /tmp/piptest/dl"
    )
    assert result.rc == 0, result.stderr
    assert "six-" in result.stdout


def test_rlimits_are_the_modest_ones(host):
    assert host.check_output("sh -c 'ulimit -n'") == "1024"
