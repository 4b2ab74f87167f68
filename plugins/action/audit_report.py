# Copyright: the hardening.stack authors. MIT License.
"""Write the audit playbook's report on the controller and fail on failed controls."""

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_report
short_description: Write the audit's JSON and Markdown report on the controller, show it, fail on failures
description:
  - Runs on the controller only and never contacts the host; run it once (C(run_once=true)).
  - Builds one report from every host's C(audit_controls) (a list of controls, each
    C({id, title, status, observed, expected, group}) with status C(pass), C(fail) or C(skip)),
    checks their shape, and writes C(audit.json) (described by C(playbooks/audit-report.schema.json),
    the same text for the same findings) and C(audit.md) (with the time it was generated) in O(dest).
  - Shows the report as a table on the terminal.
  - Writes the report in check mode too, since the report is output on the controller, not state on a host.
    It always returns C(changed=false).
  - Fails, listing them, when a control failed or a host gave no results, unless O(fail_on_failure) is false.
options:
  hosts:
    description: The hosts the report covers (C(ansible_play_hosts_all)); one missing from O(results) is
      reported as a host without results. Hosts in O(results) are all reported too.
    type: list
    elements: str
    required: true
  results:
    description: Per host, its list of controls, or null when the host gave none (unreachable, or failed
      before the audit ended).
    type: dict
    required: true
  dest:
    description: The directory on the controller to write C(audit.json) and C(audit.md) in; created (mode 0750)
      when missing. The files are mode 0640, each replaced atomically.
    type: path
    required: true
  fail_on_failure:
    description: Fail the task when a control failed or a host gave no results.
    type: bool
    default: true
  display:
    description: Print the table on the terminal. The audit playbook's first task writes a report with
      no results yet, not shown, so a run that ends early never leaves the previous run's report.
    type: bool
    default: true
author: hardening.stack authors
"""

EXAMPLES = r"""
- name: Report
  hardening.stack.audit_report:
    hosts: "{{ ansible_play_hosts_all }}"
    results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all
      | map('extract', hostvars, 'audit_controls') | map('default', none))) }}"
    dest: "{{ playbook_dir }}/../reports"
  run_once: true
"""

RETURN = r"""
report:
  description: The paths written, C(json) and C(markdown).
  type: dict
summary:
  description: C(hosts), C(pass), C(fail), C(skip) and C(hosts_without_results), counted over every host.
  type: dict
failed_controls:
  description: "C(host: id) for each failed control and C(host: no results) for each host without results."
  type: list
  elements: str
"""

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hardening.stack.plugins.plugin_utils.audit_report import (
    build_report, failed, render_table, write_reports)

LISTED = 20
ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "fail_on_failure": {"type": "bool", "default": True},
    "display": {"type": "bool", "default": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        results = dict(args["results"])
        for host in args["hosts"]:
            results.setdefault(host, None)
        try:
            report = build_report(results)
        except ValueError as error:
            raise AnsibleActionFail("audit_report: %s" % error) from None
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        try:
            paths = write_reports(report, args["dest"], generated)
        except OSError as error:
            raise AnsibleActionFail("audit_report: cannot write the report in %s: %s" % (args["dest"], error)) from None
        if args["display"]:
            Display().display(render_table(report).rstrip("\n"))
        failures = failed(report)
        result.update(changed=False, report=paths, summary=report["summary"], failed_controls=failures)
        if failures and args["fail_on_failure"]:
            listed = ", ".join(failures[:LISTED])
            if len(failures) > LISTED:
                listed += " and %d more" % (len(failures) - LISTED)
            result.update(failed=True, msg="%d controls failed: %s" % (len(failures), listed))
        return result
