# Copyright: the hardening.stack authors. MIT License.
"""Read what a role manages on a host in one shell round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
name: host_state
short_description: Read a role's managed paths, packages, units and facts in one round trip
description:
  - Runs one shell command on the host (no Python start there) that reports,
    for every item of a managed table and every extra path, its type, mode,
    owner, group and SHA-1 (or link target); which of the named Debian
    packages are installed; whether the named systemd units are enabled and
    active; and the output of named read-only commands.
  - Runs in check mode too: it only reads. Output is read in the C locale.
  - Read after anything that can write the managed paths (a package install), since
    M(hardening.stack.managed) trusts this state until the role ends.
  - Pair it with M(hardening.stack.managed), which applies only what differs.
options:
  managed:
    description: The role's table of managed items (see M(hardening.stack.managed)); their paths are read.
    type: list
    elements: dict
    default: []
  paths:
    description: Extra paths to read.
    type: list
    elements: str
    default: []
  packages:
    description: Debian packages whose installed state is read.
    type: list
    elements: str
    default: []
  units:
    description: systemd units whose enabled and active states are read.
    type: list
    elements: str
    default: []
  commands:
    description: Read-only shell commands by name; each one's output lines are returned under its name.
    type: dict
    default: {}
author: hardening.stack authors
"""

RETURN = r"""
paths:
  description: Per path, C(type) (file, directory, link, other, absent) and for what exists its C(mode), C(owner),
    C(group), C(sha1) (regular files) or C(target) (links).
  type: dict
packages:
  description: Per package read, C(installed), C(status) and C(version).
  type: dict
missing_packages:
  description: The requested packages that are not installed.
  type: list
units:
  description: Per unit, C(enabled) and C(active) as systemctl prints them, and C(enabled_and_active).
  type: dict
commands:
  description: Per command name, its output lines (stdout; stderr is dropped, so a command that wants it says 2>&1).
  type: dict
command_status:
  description: Per command name, its exit status. A command that takes longer than 120 s fails the read.
  type: dict
"""

import secrets

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hardening.stack.plugins.plugin_utils.host_state import (
    COMMAND_TIMEOUT, ProbeError, TableError, check_table, parse_probe, probe_script)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("managed", "paths", "packages", "units", "commands"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        args = self._task.args
        role = self._task._role.get_name() if self._task._role else "host_state"
        try:
            items = check_table(list(args.get("managed") or []), role)
        except TableError as error:
            raise AnsibleActionFail(str(error)) from None
        paths = [item["path"] for item in items] + list(args.get("paths") or [])
        packages = list(args.get("packages") or [])
        units = list(args.get("units") or [])
        commands = dict(args.get("commands") or {})
        # A marker per run: a managed file's content never reaches the output,
        # and a command's output is not expected to carry this run's marker.
        marker = "@@" + secrets.token_hex(8)
        try:
            script = probe_script(list(dict.fromkeys(paths)), packages, units, commands, marker)
        except TableError as error:
            raise AnsibleActionFail("%s: %s" % (role, error)) from None
        # Through /bin/sh: the podman connection runs a command without a shell otherwise.
        run = self._low_level_execute_command(script, sudoable=True, executable="/bin/sh")
        try:
            state = parse_probe(run.get("stdout", ""), marker)
        except ProbeError as error:
            raise AnsibleActionFail("%s: reading the host's state failed: %s" % (role, error)) from None
        if not state.pop("complete"):
            raise AnsibleActionFail(
                "%s: reading the host's state failed (rc=%s): %s"
                % (role, run.get("rc"), (run.get("stderr") or run.get("stdout") or "").strip()[-2000:]))
        unreadable = state.pop("unreadable")
        if unreadable:
            raise AnsibleActionFail(
                "%s: cannot examine %s (permission denied): the state is read as the become user, which must "
                "be root" % (role, ", ".join(unreadable)))
        timed_out = [name for name, status in state["command_status"].items() if status == 124]
        if timed_out:
            raise AnsibleActionFail("%s: reading %s took over %d s" % (role, ", ".join(timed_out), COMMAND_TIMEOUT))
        state["missing_packages"] = [name for name in packages
                                     if not state["packages"].get(name, {}).get("installed")]
        result.update(state)
        result["changed"] = False
        return result
