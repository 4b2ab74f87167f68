"""Helpers of the sandbox stage (tests/sandbox): run bin/sandbox and ansible-playbook
against the sandbox container, read a play recap, log in over SSH."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testlib import retry_penalised

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "testbed" / "containers.conf"), ANSIBLE_NOCOLOR="1")
NAME = "hardening-sandbox"
PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def sandbox(*args):
    return subprocess.run([str(ROOT / "bin" / "sandbox"), *args], capture_output=True, text=True,
                          timeout=1800, env=ENV, check=False)


def exists():
    return subprocess.run(["podman", "container", "exists", NAME], env=ENV, check=False).returncode == 0


def recap(output):
    match = re.search(r"^sandbox\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert match, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def ssh(user):
    """A fresh login to the sandbox; UFW's limit (six new connections from one
    source in 30 s, and each run's own logins count) is waited out."""
    state = ROOT / ".sandbox"
    return retry_penalised(lambda: subprocess.run(
        ["ssh", "-F", "/dev/null", "-p", "2222", "-i", str(state / "id_ed25519"), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={state / 'known_hosts'}", "-o", "IdentitiesOnly=yes",
         f"{user}@127.0.0.1", "id -un"], capture_output=True, text=True, timeout=60, check=False))


# UFW's `limit` refuses a sixth new SSH connection from one address within
# 30 s: a run refused that way is tried once more after the window.
UFW_LIMIT_WINDOW = 31


def playbook(*args, timeout=900):
    """ansible-playbook ARGS from the checkout (the sandbox inventory is ansible.cfg's);
    a run that UFW's limit turned away is tried once more after the window."""
    def run():
        return subprocess.run([PLAYBOOK, *map(str, args)], cwd=ROOT, env=ENV, capture_output=True,
                              text=True, timeout=timeout, check=False)
    done = run()
    if "UNREACHABLE" in done.stdout:
        time.sleep(UFW_LIMIT_WINDOW)
        done = run()
    return done


def container(command, check=True, stdin=None):
    """A shell command inside the sandbox container, as root (podman exec), stdin as given."""
    return subprocess.run(["podman", "exec", "-i", NAME, "sh", "-c", command], env=ENV, capture_output=True,
                          text=True, input=stdin or "", timeout=300, check=check)


def awx_job(private_root, playbook_name="site.yml"):
    """ansible-runner, as AWX runs a job: this checkout as the project, its sandbox
    inventory, no prompts. A job that UFW's limit turned away is tried once more
    after the window. Returns the last job's result and what every attempt printed:
    a change the refused attempt made is reported by it, not by the retry."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    def job():
        # The runner's private data dir (artifacts, events) stays until the result is read.
        private = tempfile.mkdtemp(dir=private_root)
        result = ansible_runner.run(private_data_dir=private, project_dir=str(ROOT), playbook=playbook_name,
                                    inventory=str(ROOT / "inventories" / "sandbox"), quiet=True,
                                    envvars={"PATH": os.environ["PATH"], "ANSIBLE_NOCOLOR": "1"})
        return result, result.stdout.read()
    result, output = job()
    if result.status != "successful" and (result.stats or {}).get("dark"):
        time.sleep(UFW_LIMIT_WINDOW)
        result, retried = job()
        output += "\n# The job again, after UFW's limit turned it away:\n" + retried
    return result, output
