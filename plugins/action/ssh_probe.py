# Copyright: the hardening.stack authors. MIT License.
"""Prove a live sshd from the controller: key-only, root refused, the admin's key works."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ssh_probe
short_description: Try the logins an attacker and the operator would try, from the controller
description:
  - Runs the C(ssh) client on the controller three times against a live sshd,
    each a fresh connection (no multiplexing). The admin's key must log in; a
    password or keyboard-interactive attempt as the admin must be refused with
    only C(publickey) offered; root with the admin's key must be refused.
  - Fails, naming the attempt, when any comes out otherwise. A source that the
    server or a rate limit turns away for a while (OpenSSH's
    PerSourcePenalties, UFW's C(limit)) is waited out, up to three times.
  - Changes nothing; in check mode it is skipped (nothing was applied).
options:
  host:
    description: Address of the sshd, as the controller reaches it.
    type: str
    required: true
  port:
    description: Its port, as the controller reaches it.
    type: int
    required: true
  user:
    description: The admin user whose key must work.
    type: str
    required: true
  private_key:
    description: Private key file on the controller; empty means the ssh client's own keys and agent.
    type: str
    default: ""
  ssh_args:
    description: More ssh client options (Ansible's C(ansible_ssh_common_args), a jump host, known_hosts).
    type: str
    default: ""
author: hardening.stack authors
"""

RETURN = r"""
attempts:
  description: Per attempt (admin_key, password, root_key), its exit status and the methods sshd offered.
  type: dict
"""

import subprocess
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hardening.stack.plugins.plugin_utils.ssh_probe import (
    DENIED, Target, attempts, judge, transient)

PAUSE = 20
TRIES = 4


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("host", "port", "user", "private_key", "ssh_args"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        if self._play_context.check_mode:
            result.update(skipped=True, msg="check mode: nothing was applied, so nothing is proven")
            return result
        args = self._task.args
        try:
            target = Target(host=str(args["host"]), port=int(args["port"]), user=str(args["user"]),
                            private_key=str(args.get("private_key") or ""), ssh_args=str(args.get("ssh_args") or ""))
        except (KeyError, TypeError, ValueError) as error:
            raise AnsibleActionFail("ssh_probe needs host, port (a number) and user: %s" % error) from None
        report, problems = {}, []
        for name, command in attempts(target).items():
            returncode, output = self._attempt(command)
            report[name] = {"rc": returncode, "offered": DENIED.findall(output)}
            problem = judge(name, returncode, output)
            if problem:
                problems.append(problem)
        result.update(changed=False, attempts=report)
        if problems:
            result.update(failed=True, msg="sshd at %s port %d does not keep the login policy: %s"
                          % (target.host, target.port, "; ".join(problems)))
        return result

    @staticmethod
    def _attempt(command):
        for attempt in range(TRIES):
            try:
                run = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                     stdin=subprocess.DEVNULL, check=False)
            except subprocess.TimeoutExpired:
                returncode, output = 255, "Connection timed out (no answer in 60 s)"
            else:
                returncode, output = run.returncode, run.stdout + run.stderr
            if returncode == 0 or not transient(output) or attempt == TRIES - 1:
                return returncode, output
            time.sleep(PAUSE)
        return returncode, output
