"""gunicorn comes back after being killed, and everything after a container restart.

Disruptive: runs after every other test of the scenario, the deploys included.
"""

import os
import subprocess
import time

import pytest

from helpers import SERVICE, wait_for_health

pytestmark = pytest.mark.disruptive(order=4)


def main_pid(host) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {SERVICE}"))


def test_killed_gunicorn_is_restarted_by_systemd(host, published):
    before = main_pid(host)
    assert before > 0
    host.check_output(f"kill -KILL {before}")
    deadline = time.monotonic() + 60
    while main_pid(host) in (0, before) or host.run(f"systemctl is-active {SERVICE}").stdout.strip() != "active":
        assert time.monotonic() < deadline, host.run(f"systemctl status {SERVICE}").stdout
        time.sleep(1)
    assert wait_for_health(published["https"]) == {"status": "ok"}
    assert int(host.check_output(f"systemctl show -p NRestarts --value {SERVICE}")) >= 1


def test_all_services_come_back_after_a_container_restart(host, published):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "testbed",
                                                        "containers.conf"))
    subprocess.run(["podman", "restart", "--time", "20", host.backend.get_hostname()], env=env, check=True,
                   capture_output=True, timeout=120)
    assert wait_for_health(published["https"], timeout=120) == {"status": "ok"}
    for unit in (SERVICE, SERVICE.replace(".service", ".socket"), "nginx.service"):
        assert host.run(f"systemctl is-active {unit}").stdout.strip() == "active", unit
