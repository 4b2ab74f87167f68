# Copyright: the hardening.stack authors. MIT License.
"""Logins against a live sshd, tried from the controller as people would try them.

Pure parts (the ssh command lines and the judgement of what came back) are
here so they can be unit-tested; plugins/action/ssh_probe.py runs them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# What ssh prints when the server (or a firewall's rate limit in front of it)
# turned the source away for a while rather than answering the question:
# OpenSSH 9.8+'s PerSourcePenalties, UFW's `limit`, a saturated MaxStartups.
TRANSIENT = ("Not allowed at this time", "Connection reset by peer", "kex_exchange_identification",
             "Connection refused", "Connection timed out", "timed out during banner exchange",
             "did not receive banner")
DENIED = re.compile(r"Permission denied \(([^)]*)\)")


@dataclass
class Target:
    host: str
    port: int
    user: str
    private_key: str = ""
    ssh_args: str = ""


def base_command(target: Target, user: str) -> list[str]:
    """ssh with the operator's connection settings, never prompting, running `true`."""
    command = ["ssh", "-p", str(target.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "LogLevel=ERROR"]
    if target.private_key:
        command += ["-i", target.private_key, "-o", "IdentitiesOnly=yes"]
    command += shlex.split(target.ssh_args)
    return command


def attempts(target: Target) -> dict[str, list[str]]:
    """The three logins: the admin's key, a password from the admin, root with the admin's key."""
    destination = f"{target.user}@{target.host}"
    return {
        "admin_key": base_command(target, target.user) + [destination, "true"],
        "password": base_command(target, target.user)
        + ["-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
           "-o", "NumberOfPasswordPrompts=0", destination, "true"],
        "root_key": base_command(target, "root") + [f"root@{target.host}", "true"],
    }


def transient(output: str) -> bool:
    return any(marker in output for marker in TRANSIENT)


def judge(name: str, returncode: int, output: str) -> str | None:
    """None when the attempt came out as the policy wants, else why not."""
    offered = DENIED.findall(output)
    if name == "admin_key":
        if returncode == 0:
            return None
        return f"the admin's key login failed (exit {returncode}): {output.strip()[-300:]}"
    if returncode == 0:
        return f"the {name} attempt logged in"
    if not offered:
        return f"the {name} attempt was not answered by sshd (exit {returncode}): {output.strip()[-300:]}"
    if name == "password" and offered[-1] != "publickey":
        return f"sshd offers {offered[-1]} to a password client; only publickey may be offered"
    return None
