"""Re-apply the role with other settings, then restore the scenario's own.

Disruptive (run after the scenario's other tests): each test converges the hosts again.
"""

import json
import os
import subprocess

import pytest

from testlib import retry_penalised, run_playbook

pytestmark = pytest.mark.disruptive

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERGE = os.path.join(SCENARIO, "converge.yml")
ADMIN_KEY = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "id_admin.pub")


def converge(host, **extra):
    args = ["--limit", host.backend.get_hostname()]
    if extra:
        args += ["-e", json.dumps(extra)]
    return run_playbook(CONVERGE, *args)


def effective(host, keyword):
    out = host.check_output("sshd -T -C user=deploy,host=example.test,addr=192.0.2.7")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)[keyword]


def test_pq_only_leaves_no_audit_warning(host, published):
    result = converge(host, ssh_hardening_kex_policy="pq-only")
    try:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "curve25519" not in effective(host, "kexalgorithms")
        audit = retry_penalised(lambda: subprocess.run(
            ["ssh-audit", "-n", "-p", str(published["ssh"]), "127.0.0.1"],
            capture_output=True, text=True, timeout=120, check=False))
        assert "(kex) sntrup761x25519-sha512" in audit.stdout, audit.stdout + audit.stderr
        assert "[warn]" not in audit.stdout and "[fail]" not in audit.stdout, audit.stdout
        assert audit.returncode == 0
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]


def test_a_candidate_that_would_lock_the_admin_out_is_not_applied(host):
    """The admin's shell cannot run commands: the test login fails, the old sshd_config stays."""
    before = host.check_output("sha256sum /etc/ssh/sshd_config")
    with open(ADMIN_KEY, encoding="utf-8") as handle:
        key = handle.read().strip()
    result = converge(host, ssh_hardening_max_auth_tries=4, ssh_hardening_admin_users=[
        {"name": "deploy", "authorized_keys": [key], "shell": "/bin/false"}])
    try:
        assert result.returncode != 0
        assert "a key login as deploy to a test sshd running the candidate failed" in result.stdout, \
            result.stdout[-3000:]
        assert host.check_output("sha256sum /etc/ssh/sshd_config") == before
        assert effective(host, "maxauthtries") == "3"
    finally:
        restored = converge(host)
        assert restored.returncode == 0, restored.stdout[-3000:]
        assert host.user("deploy").shell == "/bin/bash"
