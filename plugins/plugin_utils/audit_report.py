# Copyright: the hardening.stack authors. MIT License.
"""The audit playbook's report: checked, sorted, rendered and written.

Each audited host ends with a list of controls, each a dict
``{"id", "title", "status", "observed", "expected", "group"}`` with status
pass, fail or skip; a host that gave no list (unreachable, or failed before
the audit ended) is reported as such. ``build_report`` turns them into one
JSON-ready report that is the same text for the same findings, whatever the
order the hosts and controls came in (no timestamp: the Markdown rendering
takes one); ``playbooks/audit-report.schema.json`` describes it.

This module is pure Python (no Ansible imports) so that it is unit-tested on
its own; the ``audit_report`` action plugin calls it on the controller.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

SCHEMA = 1
STATUSES = ("pass", "fail", "skip")
CONTROL_KEYS = ("id", "title", "status", "observed", "expected", "group")
CELL_WIDTH = 60
_TABLE_COLUMNS = ("HOST", "CONTROL", "STATUS", "OBSERVED", "EXPECTED")


def _canonical(value, where):
    """A JSON value as plain lists, dicts, strings and numbers, nested keys sorted."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError("%s is not a JSON value: %s" % (where, error)) from None


def _check_control(host, control, seen):
    if not isinstance(control, dict):
        raise ValueError("host %s: a control must be a dict, got %s" % (host, type(control).__name__))
    ident = control.get("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError("host %s: a control has no id (a non-empty string): %r" % (host, ident))
    where = "host %s, control %s" % (host, ident)
    missing = [key for key in CONTROL_KEYS if key not in control]
    if missing:
        raise ValueError("%s: missing %s" % (where, ", ".join(missing)))
    extra = sorted(str(key) for key in control if key not in CONTROL_KEYS)
    if extra:
        raise ValueError("%s: unknown keys %s" % (where, ", ".join(extra)))
    if ident in seen:
        raise ValueError("%s: duplicate id" % where)
    seen.add(ident)
    if control["status"] not in STATUSES:
        raise ValueError("%s: status %r is not one of %s" % (where, control["status"], ", ".join(STATUSES)))
    if not isinstance(control["title"], str):
        raise ValueError("%s: title must be a string" % where)
    group = ident.split(".", 1)[0]
    if control["group"] != group or not group:
        raise ValueError("%s: group %r is not the part of the id before the first dot (%r)"
                         % (where, control["group"], group))
    return {
        "id": ident,
        "title": control["title"],
        "status": control["status"],
        "observed": _canonical(control["observed"], where + " observed"),
        "expected": _canonical(control["expected"], where + " expected"),
        "group": group,
    }


def build_report(results):
    """Hosts -> their controls (None: no results) -> the report dict.

    Hosts are sorted by name and each host's controls by id; keys come in a
    fixed order. Raises ValueError naming the host (and the control id) when
    a control is not a dict of exactly the six keys, has an unknown status,
    a group that is not its id's first part, a value that is not JSON, or an
    id seen before on that host.
    """
    if not isinstance(results, dict):
        raise ValueError("results must be a dict of host -> controls, got %s" % type(results).__name__)
    hosts = []
    totals = {status: 0 for status in STATUSES}
    for host in sorted(results, key=str):
        if not isinstance(host, str) or not host:
            raise ValueError("host names must be non-empty strings, got %r" % (host,))
        controls = results[host]
        if controls is None:
            hosts.append({"host": host, "complete": False, "summary": {status: 0 for status in STATUSES},
                          "controls": []})
            continue
        if not isinstance(controls, (list, tuple)):
            raise ValueError("host %s: controls must be a list (or None), got %s" % (host, type(controls).__name__))
        seen = set()
        checked = sorted((_check_control(host, control, seen) for control in controls), key=lambda c: c["id"])
        counts = {status: sum(1 for c in checked if c["status"] == status) for status in STATUSES}
        for status in STATUSES:
            totals[status] += counts[status]
        hosts.append({"host": host, "complete": True, "summary": counts, "controls": checked})
    summary = {"hosts": len(hosts), **totals,
               "hosts_without_results": sum(1 for h in hosts if not h["complete"])}
    return {"schema": SCHEMA, "summary": summary, "hosts": hosts}


def failed(report):
    """'host: id' for each failing control, and 'host: no results' for each host without any."""
    lines = []
    for host in report["hosts"]:
        if not host["complete"]:
            lines.append("%s: no results" % host["host"])
            continue
        lines.extend("%s: %s" % (host["host"], c["id"]) for c in host["controls"] if c["status"] == "fail")
    return lines


def compact(value):
    """A value in short: strings as is, lists joined by ', ', dicts as k=v pairs, JSON otherwise.

    Inside a list or dict, strings are as is and anything else is JSON ([1, 2]), so nesting stays readable.
    """
    def inner(item):
        return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)

    if value in ([], {}, ""):
        return "none"
    if isinstance(value, list):
        return ", ".join(inner(item) for item in value)
    if isinstance(value, dict):
        return ", ".join("%s=%s" % (key, inner(item)) for key, item in value.items())
    return inner(value)


def difference(observed, expected):
    """What differs, for a failed control's table cells: of two dicts the keys whose values
    differ, of two lists the items only one side has; other values as they are."""
    if isinstance(observed, dict) and isinstance(expected, dict):
        keys = [key for key in list(expected) + [k for k in observed if k not in expected]
                if observed.get(key) != expected.get(key)]
        return ({key: observed.get(key, "(absent)") for key in keys},
                {key: expected.get(key, "(absent)") for key in keys})
    if isinstance(observed, list) and isinstance(expected, list):
        return ([item for item in observed if item not in expected],
                [item for item in expected if item not in observed])
    return observed, expected


def _cut(text, width=CELL_WIDTH):
    return text if len(text) <= width else text[:width - 1] + "…"


def summary_line(report):
    """'N controls: P pass, F fail, S skip on H hosts'."""
    s = report["summary"]
    return "%d controls: %d pass, %d fail, %d skip on %d hosts" % (
        s["pass"] + s["fail"] + s["skip"], s["pass"], s["fail"], s["skip"], s["hosts"])


def render_table(report):
    """A fixed-width table for the terminal, one row per control, and the summary line last.

    Cells are on one line (a newline shows as a literal backslash-n) and cut at 60
    characters with an ellipsis; a failed control shows only what differs (the
    files have the whole values). A host without results has one row saying so.
    """
    rows = []
    for host in report["hosts"]:
        if not host["complete"]:
            rows.append((host["host"], "(no results)", "-", "", ""))
            continue
        if not host["controls"]:
            rows.append((host["host"], "(no controls)", "-", "", ""))
        for c in host["controls"]:
            observed, expected = c["observed"], c["expected"]
            if c["status"] == "fail":
                observed, expected = difference(observed, expected)
            rows.append((host["host"], c["id"], c["status"].upper(), compact(observed), compact(expected)))
    rows = [tuple(_cut(str(cell).replace("\r", "").replace("\n", "\\n")) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in [_TABLE_COLUMNS] + rows) for i in range(len(_TABLE_COLUMNS))]

    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [line(_TABLE_COLUMNS), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in rows)
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _md_cell(text):
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return text.replace("\r\n", "\n").replace("\n", "<br>")


def render_markdown(report, generated):
    """The report as a Markdown document: a summary, then one table per host, controls in id order.

    In cells, '|' is escaped as '\\|', newlines become <br>, and &, <, > are HTML
    entities (so a value such as '<none>' is shown, not taken for a tag).
    """
    s = report["summary"]
    out = ["# Audit report", "", "Generated: %s" % generated, "", summary_line(report) + "."]
    if s["hosts_without_results"]:
        out[-1] += " %d hosts without results." % s["hosts_without_results"]
    for host in report["hosts"]:
        out += ["", "## %s" % host["host"], ""]
        if not host["complete"]:
            out.append("No results: the host was unreachable or failed before the audit ended.")
            continue
        if not host["controls"]:
            out.append("No controls.")
            continue
        h = host["summary"]
        out += ["%d pass, %d fail, %d skip." % (h["pass"], h["fail"], h["skip"]), "",
                "| Control | Status | Observed | Expected |", "| --- | --- | --- | --- |"]
        for c in host["controls"]:
            status = "**FAIL**" if c["status"] == "fail" else c["status"].upper()
            control = "`%s` %s" % (c["id"], c["title"])
            out.append("| %s | %s | %s | %s |" % (_md_cell(control), status, _md_cell(compact(c["observed"])),
                                                  _md_cell(compact(c["expected"]))))
    return "\n".join(out) + "\n"


def _write_atomic(path, text, mode=0o640):
    """Write text to path via a temporary file in the same directory and os.replace."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".%s." % path.name, suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def write_reports(report, directory, generated):
    """Write audit.json and audit.md in directory; return {"json": path, "markdown": path}.

    A new directory is created (with its parents) mode 0750; the files are
    mode 0640, each replaced atomically.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        os.chmod(directory, 0o750)  # whatever the umask
    paths = {"json": directory / "audit.json", "markdown": directory / "audit.md"}
    _write_atomic(paths["json"], json.dumps(report, indent=2, sort_keys=False) + "\n")
    _write_atomic(paths["markdown"], render_markdown(report, generated))
    return {kind: str(path) for kind, path in paths.items()}
