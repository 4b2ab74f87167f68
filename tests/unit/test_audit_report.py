"""plugins/plugin_utils/audit_report.py and the audit_report action: the report the audit playbook writes.

The pure parts are tested directly; the JSON is checked against
playbooks/audit-report.schema.json; the action runs for real in
ansible-playbook on this machine (connection local).
"""

import importlib.util
import json
import os
import pathlib
import stat
import subprocess
import sys

import jsonschema
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("audit_report", ROOT / "plugins/plugin_utils/audit_report.py")
ar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ar)
SCHEMA = json.loads((ROOT / "playbooks/audit-report.schema.json").read_text())


def control(ident, status="pass", observed="yes", expected="yes", title=None):
    return {"id": ident, "title": title or "Title of " + ident, "status": status, "observed": observed,
            "expected": expected, "group": ident.split(".", 1)[0]}


RESULTS = {
    "web1": [control("ssh.key_only"), control("fw.enabled", "fail", "inactive", "active"),
             control("ssh.root_login", "skip", None, "no")],
    "app1": [control("ssh.key_only", observed={"b": 2, "a": [1, 2]}, expected={"a": [1, 2], "b": 2})],
    "db1": None,
}


def test_report_is_sorted_counted_and_in_a_fixed_key_order():
    report = ar.build_report(RESULTS)
    assert list(report) == ["schema", "summary", "hosts"]
    assert report["schema"] == 1
    assert report["summary"] == {"hosts": 3, "pass": 2, "fail": 1, "skip": 1, "hosts_without_results": 1}
    assert list(report["summary"]) == ["hosts", "pass", "fail", "skip", "hosts_without_results"]
    assert [h["host"] for h in report["hosts"]] == ["app1", "db1", "web1"]
    web = report["hosts"][2]
    assert list(web) == ["host", "complete", "summary", "controls"]
    assert web["complete"] is True and web["summary"] == {"pass": 1, "fail": 1, "skip": 1}
    assert [c["id"] for c in web["controls"]] == ["fw.enabled", "ssh.key_only", "ssh.root_login"]
    assert list(web["controls"][0]) == ["id", "title", "status", "observed", "expected", "group"]
    assert web["controls"][0]["group"] == "fw"


def test_a_host_without_results_is_incomplete_and_empty():
    db = ar.build_report(RESULTS)["hosts"][1]
    assert db == {"host": "db1", "complete": False, "summary": {"pass": 0, "fail": 0, "skip": 0}, "controls": []}


def test_same_findings_in_another_order_give_the_same_text():
    shuffled = {host: (list(reversed(controls)) if controls else controls)
                for host, controls in reversed(list(RESULTS.items()))}
    shuffled["app1"] = [dict(reversed(list(c.items())), observed={"a": [1, 2], "b": 2}) for c in shuffled["app1"]]
    first = json.dumps(ar.build_report(RESULTS), indent=2)
    assert json.dumps(ar.build_report(shuffled), indent=2) == first
    # Nested dicts come out with sorted keys, tuples as lists.
    assert '"observed": {\n' in first
    tupled = ar.build_report({"h": [control("a.b", observed=("x", 1))]})
    assert tupled["hosts"][0]["controls"][0]["observed"] == ["x", 1]


def test_input_is_not_modified():
    results = {"h": [control("b.x"), control("a.x")]}
    before = json.dumps(results)
    ar.build_report(results)
    assert json.dumps(results) == before


@pytest.mark.parametrize("controls, words", [
    ([control("ssh.a", status="error")], ["h1", "ssh.a", "status 'error'"]),
    ([control("ssh.a", status="PASS")], ["h1", "ssh.a", "status"]),
    ([{k: v for k, v in control("ssh.a").items() if k != "expected"}], ["h1", "ssh.a", "missing expected"]),
    ([{**control("ssh.a"), "note": 1}], ["h1", "ssh.a", "unknown keys note"]),
    ([control("ssh.a"), control("ssh.a", "fail")], ["h1", "ssh.a", "duplicate id"]),
    ([{**control("ssh.a"), "group": "fw"}], ["h1", "ssh.a", "group 'fw'"]),
    ([control("ssh.a", observed=object())], ["h1", "ssh.a", "not a JSON value"]),
    ([control("ssh.a", observed=float("nan"))], ["h1", "ssh.a", "not a JSON value"]),
    ([{k: v for k, v in control("ssh.a").items() if k != "id"}], ["h1", "no id"]),
    (["ssh.a"], ["h1", "must be a dict"]),
    ("ssh.a", ["h1", "must be a list"]),
])
def test_bad_controls_are_refused_naming_host_and_control(controls, words):
    with pytest.raises(ValueError) as error:
        ar.build_report({"h0": [], "h1": controls})
    for word in words:
        assert word in str(error.value)


def test_failed_lists_failures_and_hosts_without_results():
    assert ar.failed(ar.build_report(RESULTS)) == ["db1: no results", "web1: fw.enabled"]
    assert ar.failed(ar.build_report({"h": [control("a.b"), control("a.c", "skip")]})) == []


@pytest.mark.parametrize("value, text", [
    ("as is", "as is"),
    (["a", "b", 3], "a, b, 3"),
    ({"b": 1, "a": "x"}, "b=1, a=x"),
    (None, "null"),
    (True, "true"),
    (2.5, "2.5"),
    ([], "none"),
    ({}, "none"),
    (["…"], "…"),
    ({"a": [1, "x"], "b": {"c": None}}, 'a=[1, "x"], b={"c": null}'),
    (["a", [1, 2]], "a, [1, 2]"),
])
def test_compact(value, text):
    assert ar.compact(value) == text


def test_table_columns_truncation_and_last_line():
    long = "x" * 100
    report = ar.build_report({**RESULTS, "web1": RESULTS["web1"] + [control("ssh.banner", "fail", long, "a\nb")]})
    lines = ar.render_table(report).splitlines()
    assert lines[0].split() == ["HOST", "CONTROL", "STATUS", "OBSERVED", "EXPECTED"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[-1] == "5 controls: 2 pass, 2 fail, 1 skip on 3 hosts"
    banner = next(line for line in lines if "ssh.banner" in line)
    assert "x" * 59 + "…" in banner and "x" * 60 not in banner
    assert banner.split()[2] == "FAIL" and banner.endswith("a\\nb")
    assert any(line.startswith("db1") and "(no results)" in line for line in lines)
    assert any("a=[1, 2], b=2" in line for line in lines)
    # Fixed width: every row's STATUS column starts at the header's.
    column = lines[0].index("STATUS")
    for line in lines[2:-1]:
        assert line[column - 2:column] == "  " and line[column] != " "


def test_markdown_escapes_cells_and_keeps_id_order():
    results = {"h": [control("b.pipe", "fail", "a|b", "x\ny", title="Pipes | and <tags>"), control("a.ok")]}
    text = ar.render_markdown(ar.build_report(results), "2024-05-01 10:00:00 UTC")
    lines = text.splitlines()
    assert lines[0] == "# Audit report"
    assert "Generated: 2024-05-01 10:00:00 UTC" in lines
    assert "2 controls: 1 pass, 1 fail, 0 skip on 1 hosts." in lines
    assert "## h" in lines
    assert "| Control | Status | Observed | Expected |" in lines
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[0].startswith("| `a.ok`") and rows[1].startswith("| `b.pipe`")
    assert rows[1] == "| `b.pipe` Pipes \\| and &lt;tags&gt; | **FAIL** | a\\|b | x<br>y |"
    assert "| PASS |" in rows[0]
    # Every row has exactly the four cells: no unescaped pipe inside.
    for row in rows:
        assert row.replace("\\|", "").count("|") == 5


def test_markdown_names_hosts_without_results():
    text = ar.render_markdown(ar.build_report(RESULTS), "now")
    assert "## db1\n\nNo results" in text
    assert "1 hosts without results." in text


def test_write_reports_files_modes_and_atomic_replace(tmp_path):
    old = os.umask(0o022)
    try:
        report = ar.build_report(RESULTS)
        directory = tmp_path / "a" / "reports"
        paths = ar.write_reports(report, directory, "then")
    finally:
        os.umask(old)
    assert paths == {"json": str(directory / "audit.json"), "markdown": str(directory / "audit.md")}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    for path in paths.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert (directory / "audit.json").read_text() == json.dumps(report, indent=2) + "\n"
    assert json.loads((directory / "audit.json").read_text()) == report
    assert (directory / "audit.md").read_text() == ar.render_markdown(report, "then")

    # A second write replaces the files (new inodes: written aside, then renamed) and leaves no temp file.
    inode = (directory / "audit.json").stat().st_ino
    keep = os.open(directory / "audit.json", os.O_RDONLY)
    try:
        ar.write_reports(ar.build_report({"h": []}), directory, "later")
        assert os.read(keep, 100).startswith(b'{\n  "schema": 1,\n  "summary": {\n    "hosts": 3')
    finally:
        os.close(keep)
    assert (directory / "audit.json").stat().st_ino != inode
    assert '"hosts": 1' in (directory / "audit.json").read_text()
    assert sorted(p.name for p in directory.iterdir()) == ["audit.json", "audit.md"]
    # An existing directory keeps its mode.
    os.chmod(directory, 0o755)
    ar.write_reports(report, directory, "again")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    ar.write_reports(ar.build_report(RESULTS), tmp_path, "then")
    before = (tmp_path / "audit.json").read_text()

    def broken(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(ar.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        ar.write_reports(ar.build_report({"h": []}), tmp_path, "later")
    assert (tmp_path / "audit.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "audit.md"]


def test_report_validates_against_the_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for results in (RESULTS, {}, {"h": []}, {"h": None}):
        validator.validate(json.loads(json.dumps(ar.build_report(results))))


@pytest.mark.parametrize("spoil", [
    lambda r: r["hosts"][2]["controls"][0].update(status="error"),
    lambda r: r["hosts"][2]["controls"][0].update(note="extra"),
    lambda r: r["hosts"][2]["controls"][0].pop("group"),
    lambda r: r["hosts"][2].update(extra=1),
    lambda r: r["hosts"][2]["summary"].update(errors=0),
    lambda r: r["summary"].update(generated="now"),
    lambda r: r.update(generated="now"),
    lambda r: r.update(schema=2),
    lambda r: r["summary"].update(fail=-1),
    lambda r: r["hosts"][1].update(complete="no"),
])
def test_the_schema_is_strict(spoil):
    report = json.loads(json.dumps(ar.build_report(RESULTS)))
    spoil(report)
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(report)


PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Audit
      ansible.builtin.set_fact:
        audit_controls: "{{ controls[inventory_hostname] }}"
      when: inventory_hostname in controls
    - name: Report
      hardening.stack.audit_report:
        hosts: "{{ ansible_play_hosts_all }}"
        results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all
          | map('extract', hostvars, 'audit_controls') | map('default', none))) }}"
        dest: "{{ dest }}"
        fail_on_failure: "{{ fail_on_failure | default(true) }}"
      run_once: true
"""


def play(tmp_path, controls, *args, **extra):
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "hosts").write_text("[all]\nweb1\ndb1\napp1\n[all:vars]\nansible_connection=local\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    variables = {"controls": controls, "dest": str(tmp_path / "reports"), **extra}
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "hosts", "site.yml",
           "-e", json.dumps(variables), *args]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    # The table is displayed before the callback's JSON document.
    table, brace, document = done.stdout.partition("\n{\n")
    out = json.loads(brace.lstrip("\n") + document if brace else table)
    task = next(t for t in out["plays"][0]["tasks"] if t["task"]["name"] == "Report")
    return done.returncode, next(iter(task["hosts"].values())), table


def test_action_writes_the_report_and_fails_on_failures(tmp_path):
    controls = {"web1": RESULTS["web1"], "app1": RESULTS["app1"]}
    rc, result, table = play(tmp_path, controls)
    assert table.splitlines()[0].split() == ["HOST", "CONTROL", "STATUS", "OBSERVED", "EXPECTED"]
    assert table.splitlines()[-1] == "4 controls: 2 pass, 1 fail, 1 skip on 3 hosts"
    assert rc != 0 and result["failed"] and result["changed"] is False
    assert result["msg"] == "2 controls failed: db1: no results, web1: fw.enabled"
    assert result["failed_controls"] == ["db1: no results", "web1: fw.enabled"]
    assert result["summary"] == {"hosts": 3, "pass": 2, "fail": 1, "skip": 1, "hosts_without_results": 1}
    written = json.loads(pathlib.Path(result["report"]["json"]).read_text())
    assert written == ar.build_report({**controls, "db1": None})
    assert pathlib.Path(result["report"]["markdown"]).read_text().startswith("# Audit report\n")

    # fail_on_failure false, and check mode: the report is written all the same.
    pathlib.Path(result["report"]["json"]).unlink()
    rc, result, _ = play(tmp_path, controls, "--check", fail_on_failure=False)
    assert rc == 0 and not result.get("failed") and result["changed"] is False
    assert pathlib.Path(result["report"]["json"]).is_file()


def test_action_lists_at_most_twenty_failures(tmp_path):
    controls = {"web1": [control("c.%02d" % i, "fail") for i in range(23)], "db1": [], "app1": []}
    rc, result, _ = play(tmp_path, controls)
    assert rc != 0
    assert result["msg"].startswith("23 controls failed: web1: c.00, web1: c.01, ")
    assert result["msg"].endswith("web1: c.19 and 3 more")


def test_action_refuses_bad_controls(tmp_path):
    rc, result, _ = play(tmp_path, {"web1": [control("ssh.a", status="broken")], "db1": [], "app1": []})
    assert rc != 0
    assert "web1" in result["msg"] and "ssh.a" in result["msg"] and "broken" in result["msg"]
    assert not (tmp_path / "reports").exists()


def test_a_failed_control_shows_only_what_differs_in_the_table():
    controls = [
        {"id": "ssh.key_only", "group": "ssh", "title": "Key only", "status": "fail",
         "observed": {"a": "no", "passwordauthentication": "yes"},
         "expected": {"a": "no", "passwordauthentication": "no"}},
        {"id": "firewall.rules", "group": "firewall", "title": "Rules", "status": "fail",
         "observed": ["allow 22", "allow 8081"], "expected": ["allow 22", "allow 443"]},
        {"id": "ssh.port", "group": "ssh", "title": "Port", "status": "pass",
         "observed": {"a": "1", "port": "22"}, "expected": {"a": "1", "port": "22"}},
    ]
    table = ar.render_table(ar.build_report({"h": controls}))
    rules = next(line for line in table.splitlines() if "firewall.rules" in line)
    key_only = next(line for line in table.splitlines() if "ssh.key_only" in line)
    port = next(line for line in table.splitlines() if "ssh.port" in line)
    assert "allow 8081" in rules and "allow 443" in rules and "allow 22" not in rules
    assert "passwordauthentication=yes" in key_only and "passwordauthentication=no" in key_only
    assert "a=no" not in key_only
    assert "a=1, port=22" in port  # a pass shows the whole value
