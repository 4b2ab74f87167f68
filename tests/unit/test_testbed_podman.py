"""testbed/connection_plugins/testbed_podman.py, the molecule scenarios' pipelined podman connection.

That modules really run through it is what every scenario's converge shows;
here only what needs no container: Ansible finds and documents it, it says it
pipelines, and `podman exec` gets stdin.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "testbed" / "connection_plugins"
sys.path.insert(0, str(PLUGINS))

import testbed_podman  # noqa: E402


def bare(user=None):
    """A Connection without a play context: only exec_arguments is used."""
    connection = object.__new__(testbed_podman.Connection)
    connection.user = user
    return connection


def test_ansible_loads_it_by_name_with_its_own_documentation():
    env = dict(os.environ, ANSIBLE_CONNECTION_PLUGINS=str(PLUGINS))
    result = subprocess.run(["ansible-doc", "-t", "connection", "--json", "testbed_podman"], env=env,
                            capture_output=True, text=True, check=True, cwd=ROOT)
    doc = json.loads(result.stdout)["testbed_podman"]["doc"]
    assert doc["name"] == "testbed_podman"
    assert "podman_executable" in doc["options"]


def test_it_pipelines_and_keeps_stdin_open():
    assert testbed_podman.Connection.has_pipelining is True
    assert bare().exec_arguments() == ["exec", "--interactive"]


def test_a_remote_user_is_passed_on():
    assert bare("admin").exec_arguments() == ["exec", "--interactive", "--user", "admin"]
