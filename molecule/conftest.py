"""Fixtures shared by every molecule scenario's testinfra tests.

Tests run on the controller: `host` reaches into the container (podman
connection), and the published ports let a test act as a user would, from
outside over 127.0.0.1.
"""

import json
import os
import re
import subprocess
import time

import pytest


@pytest.fixture
def published(host):
    """Host ports (127.0.0.1) published for this container: ssh, http, https."""
    return host.ansible.get_variables()["testbed_published"]


def run_playbook(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a playbook against molecule's inventory; stdout holds stderr too."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], *extra, playbook],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
        check=False, env=env, cwd=os.environ.get("MOLECULE_PROJECT_DIRECTORY"),
    )


def run_playbook_check(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a scenario playbook with --check --diff against molecule's inventory."""
    return run_playbook(playbook, "--check", "--diff", *extra)


def recap_changes(output: str) -> dict[str, int]:
    """Map host -> changed count from an ansible-playbook PLAY RECAP."""
    return {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)
    }


def ephemeral(name: str) -> str:
    """Path of a file in the scenario's ephemeral directory (test keys)."""
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], name)


def ssh(port: int, user: str, key: str | None, command: str = "true", *options: str,
        timeout: int = 20) -> subprocess.CompletedProcess:
    """Log in from the controller to 127.0.0.1:port as a user would."""
    args = [
        "ssh", "-F", "/dev/null", "-p", str(port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
        "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
    ]
    if key:
        args += ["-i", key]
    args += [*options, f"{user}@127.0.0.1", command]
    return retry_penalised(lambda: subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False))


# OpenSSH 9.8+ (Debian 13) penalises a source address that keeps failing to
# authenticate (PerSourcePenalties): for a while its new connections are
# refused ("Not allowed at this time"). All test traffic comes from one
# address and several tests fail logins on purpose, so a refusal of that kind
# is waited out rather than taken as the answer to the test's question.
PENALISED = ("Not allowed at this time", "Connection reset by peer", "did not receive banner",
             "kex_exchange_identification")


def retry_penalised(attempt, tries: int = 5, pause: float = 15.0):
    """Run attempt() until its output shows no source penalty (bounded)."""
    for _ in range(tries - 1):
        result = attempt()
        if not any(marker in result.stdout + result.stderr for marker in PENALISED):
            return result
        time.sleep(pause)
    return attempt()


def assert_check_mode_clean(playbook: str, hosts: int) -> None:
    """--check --diff of a converged scenario reports no change on any host."""
    result = run_playbook_check(playbook)
    assert result.returncode == 0, result.stdout[-3000:]
    changes = recap_changes(result.stdout)
    assert len(changes) == hosts and set(changes.values()) == {0}, result.stdout[-3000:]


def assert_fails_before_any_change(host, playbook: str, extra: dict, needle: str, state: str) -> None:
    """Applying playbook with bad extra vars fails, names needle, and leaves state as it was."""
    before = host.check_output(state)
    result = run_playbook(playbook, "--limit", host.backend.get_hostname(), "-e", json.dumps(extra))
    assert result.returncode != 0, result.stdout[-2000:]
    assert needle in result.stdout, result.stdout[-2000:]
    assert "changed=0" in result.stdout, result.stdout[-2000:]
    assert host.check_output(state) == before
