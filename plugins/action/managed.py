# Copyright: the hardening.stack authors. MIT License.
"""Apply a role's managed items, running the real module only for what differs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: managed
short_description: Put a role's declared files, directories and links in place, skipping what already is
description:
  - Takes the role's table of managed items, the state M(hardening.stack.host_state)
    read, and the concern(s) to apply. For each item of those concerns it works
    out on the controller what the role would write (rendering a template
    exactly as M(ansible.builtin.template) does) and compares type, mode,
    owner, group, content or link target with what was read.
  - An item already in place costs nothing on the host. Any other item goes
    through the real module (M(ansible.builtin.copy) for files, with the
    item's C(validate) and C(backup); M(ansible.builtin.file) for directories,
    links and absent paths), so check mode, diff and validation behave as
    they do for those modules.
options:
  items:
    description:
      - The role's table. Each item has C(concern) (the word an apply task
        selects it by), an absolute C(path), and one of C(template) (a file in
        the role's templates/), C(copy) (a file in the role's files/),
        C(content), or C(state) directory, link (with C(src)) or absent.
      - Files and directories need C(mode) (octal string); C(owner) and
        C(group) default to root. Files may have C(validate), C(backup) and
        C(vars) (extra template variables). C(when) false leaves the item out.
    type: list
    elements: dict
    required: true
  concern:
    description: The concern (or list of concerns) whose items this task applies.
    type: raw
    required: true
  state:
    description: The registered result of M(hardening.stack.host_state) run with the same table.
    type: dict
    required: true
author: hardening.stack authors
"""

import os
import shutil
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible._internal._templating import _template_vars

from ansible_collections.hardening.stack.plugins.plugin_utils.host_state import (
    TableError, check_table, differences, sha1_of)


class ActionModule(ActionBase):
    # No remote temporary directory: an item in place costs nothing on the
    # host; the copy action makes its own when a file must be written.
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("items", "concern", "state"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        role = self._task._role.get_name() if self._task._role else "managed"
        args = self._task.args
        concerns = args.get("concern")
        concerns = [concerns] if isinstance(concerns, str) else list(concerns or [])
        try:
            table = check_table(list(args.get("items") or []), role)
        except TableError as error:
            raise AnsibleActionFail(str(error)) from None
        raw_table = [raw for raw in (args.get("items") or [])]
        unknown = [c for c in concerns if c not in {raw.get("concern") for raw in raw_table}]
        if not concerns or unknown:
            raise AnsibleActionFail("%s: no managed item has concern %s" % (role, ", ".join(unknown) or "(none given)"))
        observed_paths = (args.get("state") or {}).get("paths")
        if not isinstance(observed_paths, dict):
            raise AnsibleActionFail("%s: state must be the registered result of hardening.stack.host_state" % role)

        result.update(changed=False, items={})
        diffs = []
        try:
            for item in (i for i in table if i["concern"] in concerns):
                outcome = self._apply(item, observed_paths.get(item["path"]), task_vars, role)
                result["items"][item["path"]] = outcome.get("reasons") or "in place"
                if outcome.get("diff"):
                    diffs.extend(outcome["diff"] if isinstance(outcome["diff"], list) else [outcome["diff"]])
                if outcome.get("failed"):
                    result.update(failed=True, msg="%s: %s: %s" % (role, item["path"], outcome.get("msg", "failed")))
                    for key in ("stderr", "stdout", "exit_status"):
                        if key in outcome:
                            result[key] = outcome[key]
                    break
                result["changed"] = result["changed"] or bool(outcome.get("changed"))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if diffs:
            result["diff"] = diffs
        return result

    def _apply(self, item, observed, task_vars, role):
        if observed is None:
            raise AnsibleActionFail(
                "%s: %s was not read by hardening.stack.host_state: pass it the same table" % (role, item["path"]))
        found = observed.get("type")
        if item["state"] in ("file", "directory") and found in ("directory", "link", "other") \
                and found != item["state"]:
            # copy would write inside a directory; file would follow a link elsewhere.
            raise AnsibleActionFail("%s: %s is a %s on the host, where the role manages a %s: remove it or "
                                    "change the table" % (role, item["path"], found, item["state"]))
        if item["state"] != "file":
            reasons = differences(item, observed)
            if not reasons:
                return {}
            outcome = self._file_module(item, task_vars)
            outcome["reasons"] = reasons
            return outcome
        content = self._content(item, task_vars)
        reasons = differences(item, observed, sha1_of(content))
        if not reasons:
            return {}
        outcome = self._copy(item, content, task_vars)
        outcome["reasons"] = reasons
        return outcome

    def _content(self, item, task_vars):
        """What the file should hold, as bytes (templates rendered as the template action does)."""
        if "content" in item:
            return to_bytes(item["content"], errors="surrogate_or_strict")
        kind = "template" if "template" in item else "copy"
        try:
            source = self._find_needle("templates" if kind == "template" else "files", item[kind])
        except AnsibleError as error:
            raise AnsibleActionFail(str(error)) from None
        if kind == "copy":
            with open(to_bytes(source, errors="surrogate_or_strict"), "rb") as handle:
                return handle.read()
        template_data = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        template_vars = task_vars.copy()
        template_vars.update(item.get("vars") or {})
        template_vars.update(_template_vars.generate_ansible_template_vars(
            path=item["template"], fullpath=source, dest_path=item["path"],
            include_ansible_managed="ansible_managed" not in template_vars))
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=template_vars)
        rendered = templar.template(template_data, escape_backslashes=False, overrides={"newline_sequence": "\n"})
        return to_bytes(rendered or "", errors="surrogate_or_strict")

    def _copy(self, item, content, task_vars):
        """Write the file through the copy action: validate, backup, diff and check mode as usual."""
        local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            source = os.path.join(local_dir, os.path.basename(item["path"]))
            with open(to_bytes(source, errors="surrogate_or_strict"), "wb") as handle:
                handle.write(content)
            new_task = self._task.copy()
            new_task.args.clear()
            new_task.args.update(src=source, dest=item["path"], owner=item["owner"], group=item["group"],
                                 mode=item["mode"], backup=bool(item.get("backup", False)))
            if item.get("validate"):
                new_task.args["validate"] = item["validate"]
            copy_action = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy", task=new_task, connection=self._connection,
                play_context=self._play_context, loader=self._loader, templar=self._templar,
                shared_loader_obj=self._shared_loader_obj)
            return copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(to_bytes(local_dir, errors="surrogate_or_strict"))

    def _file_module(self, item, task_vars):
        module_args = {"path": item["path"], "state": item["state"]}
        if item["state"] == "directory":
            module_args.update(owner=item["owner"], group=item["group"], mode=item["mode"], follow=False)
        elif item["state"] == "link":
            module_args.update(src=item["src"], force=True)
        return self._execute_module(module_name="ansible.legacy.file", module_args=module_args,
                                    task_vars=task_vars)
