"""hardening.stack.host_state + managed, run for real by ansible-playbook on
this machine (connection local) over a temporary directory: first run, a
re-run that runs no module, drift of each kind put right, check mode that
changes nothing, and a failed validate that keeps the old file."""

import json
import os
import pathlib
import pwd
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    base: "{base}"
    greeting: hello
    table:
      - {{concern: files, path: "{{{{ base }}}}/tpl", template: t.j2, mode: "0640"}}
      - {{concern: files, path: "{{{{ base }}}}/copied", copy: f.txt, mode: "0755"}}
      - {{concern: files, path: "{{{{ base }}}}/empty", content: "", mode: "0600"}}
      - {{concern: files, path: "{{{{ base }}}}/checked", content: "{{{{ checked_content | default('ok') }}}}\\n",
          mode: "0644", validate: "grep -q ok %s"}}
      - {{concern: files, path: "{{{{ base }}}}/per-item", template: item.j2, mode: "0644", vars: {{who: ada}}}}
      - {{concern: tree, path: "{{{{ base }}}}/dir", state: directory, mode: "2750", group: "{group}"}}
      - {{concern: tree, path: "{{{{ base }}}}/link", state: link, src: "{{{{ base }}}}/tpl"}}
      - {{concern: tree, path: "{{{{ base }}}}/gone", state: absent}}
      - {{concern: tree, path: "{{{{ base }}}}/skipped", state: absent, when: false}}
  tasks:
    - name: Read
      hardening.stack.host_state:
        managed: "{{{{ table }}}}"
        packages: [dpkg]
        commands: {{echo: "echo hi"}}
      register: state
    - name: Files
      hardening.stack.managed: {{items: "{{{{ table }}}}", concern: files, state: "{{{{ state }}}}"}}
      register: files
    - name: Tree
      hardening.stack.managed: {{items: "{{{{ table }}}}", concern: [tree], state: "{{{{ state }}}}"}}
      register: tree
"""


@pytest.fixture
def project(tmp_path):
    base = tmp_path / "managed"
    base.mkdir()
    play = tmp_path / "play"
    (play / "templates").mkdir(parents=True)
    (play / "files").mkdir()
    (play / "templates/t.j2").write_text("# {{ ansible_managed }}\ngreeting={{ greeting }}\n")
    (play / "templates/item.j2").write_text("for {{ who }}\n")
    (play / "files/f.txt").write_text("#!/bin/sh\necho copied\n")
    group = "adm"
    (play / "site.yml").write_text(PLAYBOOK.format(base=base, group=group))
    # The project's ansible.cfg is not read: only the collection under test.
    (play / "ansible.cfg").write_text("[defaults]\n")
    return {"base": base, "play": play, "group": group}


def run(project, *args, **extra_vars):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "site.yml", *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    done = subprocess.run(cmd, cwd=project["play"], env=env, capture_output=True, text=True)
    out = json.loads(done.stdout)
    tasks = {t["task"]["name"]: t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]}
    return done.returncode, tasks, out["stats"]["localhost"]


def test_first_run_rerun_drift_check_mode_and_validate(project):
    base = project["base"]
    (base / "gone").write_text("to be removed")

    rc, tasks, stats = run(project, "--diff")
    assert rc == 0, tasks
    assert stats["changed"] == 2
    assert (base / "tpl").read_text().endswith("greeting=hello\n")
    assert oct((base / "tpl").stat().st_mode & 0o7777) == "0o640"
    assert (base / "copied").read_text() == "#!/bin/sh\necho copied\n"
    assert (base / "empty").read_text() == ""
    assert (base / "per-item").read_text() == "for ada\n"
    assert oct((base / "dir").stat().st_mode & 0o7777) == "0o2750"
    assert (base / "link").readlink() == base / "tpl"
    assert not (base / "gone").exists() and not (base / "skipped").exists()
    assert tasks["Read"]["packages"]["dpkg"]["installed"] and tasks["Read"]["commands"]["echo"] == ["hi"]
    assert any("greeting=hello" in d.get("after", "") for d in tasks["Files"]["diff"])

    # The re-run runs no module at all: every item is reported in place.
    rc, tasks, stats = run(project)
    assert rc == 0 and stats["changed"] == 0
    assert set(tasks["Files"]["items"].values()) == {"in place"}
    assert set(tasks["Tree"]["items"].values()) == {"in place"}

    # Drift of every kind.
    os.chmod(base / "tpl", 0o644)
    os.chown(base / "copied", pwd.getpwnam("nobody").pw_uid, -1)
    (base / "empty").write_text("not empty")
    os.chmod(base / "dir", 0o755)
    (base / "link").unlink()
    (base / "link").symlink_to(base / "copied")
    (base / "gone").mkdir()
    def snapshot():
        return {p: [getattr((base / p).lstat(), f) for f in ("st_mode", "st_uid", "st_gid", "st_size", "st_mtime_ns")]
                for p in ("tpl", "copied", "empty", "dir", "link")}
    before = snapshot()

    rc, tasks, stats = run(project, "--check", "--diff")
    assert rc == 0 and stats["changed"] == 2
    assert snapshot() == before, "check mode changed the host"
    assert (base / "gone").is_dir()

    rc, tasks, stats = run(project)
    assert rc == 0 and stats["changed"] == 2
    reasons = {pathlib.Path(p).name: r for p, r in {**tasks["Files"]["items"], **tasks["Tree"]["items"]}.items()}
    assert reasons["tpl"] == ["mode 0644, not 0640"]
    assert reasons["copied"] == ["owner nobody, not root"]
    assert reasons["empty"] == ["content differs"]
    assert reasons["dir"] == ["mode 0755, not 2750"]
    assert reasons["link"] == ["links to %s, not %s" % (base / "copied", base / "tpl")]
    assert reasons["gone"] == ["exists (directory)"]
    assert run(project)[2]["changed"] == 0

    # A candidate that fails validate is refused, naming the file; the old one stays.
    rc, tasks, stats = run(project, checked_content="bad")
    assert rc != 0
    assert str(base / "checked") in tasks["Files"]["msg"]
    assert (base / "checked").read_text() == "ok\n"


def test_a_bad_table_is_refused_before_anything_is_read(project):
    text = (project["play"] / "site.yml").read_text().replace('mode: "0640"', 'mode: "rw"')
    (project["play"] / "site.yml").write_text(text)
    rc, tasks, _ = run(project)
    assert rc != 0
    assert "octal mode" in tasks["Read"]["msg"] and "/tpl" in tasks["Read"]["msg"]
    assert not (project["base"] / "empty").exists()
