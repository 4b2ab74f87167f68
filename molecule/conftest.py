"""Fixtures and pytest hooks shared by every molecule scenario's testinfra tests.

Tests run on the controller: `host` reaches into the container (podman
connection), and the published ports let a test act as a user would, from
outside over 127.0.0.1. The helpers the tests call are in molecule/testlib.py.

Order: pytest runs test files in name order and a file's tests in definition
order (testinfra groups them per host). A test that changes the converged
state, even if it puts it back, is marked `disruptive` and runs after every
unmarked test of the scenario, on every host; `order=N` ranks disruptive
tests among themselves (lower first, default 0; ties keep pytest's order).
"""

import json

import pytest
import testinfra
from testinfra.utils import ansible_runner

from testlib import fetch_pebble_root

_ansible_host = ansible_runner.get_ansible_host


def _podman_or_ansible_host(config, inventory, host, **kwargs):
    """testinfra has no native backend for Ansible's podman connection, so each
    host.run() would start a whole `ansible -m shell` (about 2-3 s). `podman
    exec` into the same container does it in a fraction of that; host.ansible()
    still goes through Ansible, and other connections keep testinfra's choice."""
    hostvars = inventory.get("_meta", {}).get("hostvars", {}).get(host, {})
    if hostvars.get("ansible_connection") in ("podman", "containers.podman.podman", "testbed_podman"):
        return testinfra.get_host(f"podman://{hostvars.get('ansible_host', host)}")
    return _ansible_host(config, inventory, host, **kwargs)


ansible_runner.get_ansible_host = _podman_or_ansible_host


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "disruptive(order=0): changes the converged state (and puts it back); runs after every "
        "unmarked test of the scenario, lower order first")


def _rank(item) -> tuple[int, int]:
    marker = item.get_closest_marker("disruptive")
    if marker is None:
        return (0, 0)
    return (1, int(marker.kwargs.get("order", 0)))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Move the disruptive tests after the others (a stable sort: pytest's order otherwise).

    trylast: after pytest's own reordering (per-host grouping of testinfra's
    module-scoped `host`), which would otherwise mix them back in.
    """
    items[:] = sorted(items, key=_rank)


_PUBLISHED: dict[str, dict] = {}


@pytest.fixture
def published(host):
    """Host ports (127.0.0.1) published for this container: ssh, http, https.

    Scenarios that link group_vars template the ports from the environment;
    ansible-inventory does not render templates, so those go through Ansible once.
    """
    name = host.backend.get_hostname()
    if name not in _PUBLISHED:
        ports = host.ansible.get_variables()["testbed_published"]
        if "{{" in json.dumps(ports):
            ports = host.ansible("ansible.builtin.debug", "var=testbed_published", check=False)["testbed_published"]
        _PUBLISHED[name] = {key: int(value) for key, value in ports.items()}
    return _PUBLISHED[name]


@pytest.fixture
def pebble_root(host, tmp_path):
    """Pebble's current root CA, as a file on the controller."""
    path = tmp_path / "pebble-root.pem"
    path.write_text(fetch_pebble_root(host))
    return str(path)
