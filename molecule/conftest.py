"""Fixtures shared by every molecule scenario's testinfra tests.

Tests run on the controller: `host` reaches into the container (podman
connection), and the published ports let a test act as a user would, from
outside over 127.0.0.1.
"""

import os
import re
import subprocess

import pytest


@pytest.fixture
def published(host):
    """Host ports (127.0.0.1) published for this container: ssh, http, https."""
    return host.ansible.get_variables()["testbed_published"]


def run_playbook_check(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a scenario playbook with --check --diff against molecule's inventory."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "--check", "--diff", playbook, *extra],
        capture_output=True, text=True, timeout=900, check=False,
        cwd=os.environ.get("MOLECULE_PROJECT_DIRECTORY"),
    )


def recap_changes(output: str) -> dict[str, int]:
    """Map host -> changed count from an ansible-playbook PLAY RECAP."""
    return {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)
    }
