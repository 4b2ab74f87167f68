"""playbooks/tasks/fleet_checks.yml: the inventory's shape is refused, with the variable or group
named, before anything changes. Run on this machine with a local connection: the checks are the
first tasks of site.yml, and a refused shape ends the run before any role's task."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
KEY = "a-shared-key-for-these-tests-0123456789-abcdefghijklmnop"
URL = "postgres://app:secret@10.0.0.9:5432/app"


def run(tmp_path, playbook, groups: dict, extra: dict):
    lines = [f"[{group}]\n" + "\n".join(hosts) for group, hosts in groups.items()]
    inventory = tmp_path / "hosts"
    inventory.write_text("\n".join(lines) + "\n[all:vars]\nansible_connection=local\nansible_become=false\n"
                         f"ansible_python_interpreter={sys.executable}\n")
    return subprocess.run([str(PLAYBOOK), "-i", str(inventory), str(playbook), "-e", json.dumps(extra)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def checks_only(tmp_path):
    playbook = tmp_path / "checks.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                        f"    - ansible.builtin.import_tasks: {ROOT}/playbooks/tasks/fleet_checks.yml\n")
    return playbook


FLEET = {"web": ["web1"], "app": ["app1", "app2"], "db": ["db1"]}

REFUSED = [
    ("two db hosts", {**FLEET, "db": ["db1", "db2"]}, {"app_secret_key": KEY, "app_database_url": ""},
     "the db group has 2 hosts (db1, db2)"),
    ("a URL beside a db group", FLEET, {"app_secret_key": KEY, "app_database_url": URL},
     "app_database_url is set and there is a db group"),
    ("no shared key", FLEET, {"app_secret_key": "", "app_database_url": ""},
     "app_secret_key: nginx balances over 2 app hosts"),
]


@pytest.mark.parametrize("groups,extra,needle", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_shape_that_cannot_work_is_refused_with_its_reason(tmp_path, groups, extra, needle):
    result = run(tmp_path, checks_only(tmp_path), groups, extra)
    assert result.returncode != 0 and needle in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize("groups,extra", [
    (FLEET, {"app_secret_key": KEY, "app_database_url": ""}),
    ({"web": ["web1"], "app": ["app1", "app2"]}, {"app_secret_key": KEY, "app_database_url": URL}),
    ({"web": ["one"], "app": ["one"]}, {"app_secret_key": "", "app_database_url": ""}),
    ({"base": ["one"]}, {}),
], ids=["a db host", "an external database", "one host", "no web, app or db group"])
def test_a_shape_that_works_passes(tmp_path, groups, extra):
    result = run(tmp_path, checks_only(tmp_path), groups, extra)
    assert result.returncode == 0, result.stdout[-2000:]


def test_site_yml_refuses_it_before_any_role_runs(tmp_path):
    result = run(tmp_path, ROOT / "site.yml", {**FLEET, "db": ["db1", "db2"]},
                 {"app_secret_key": KEY, "app_database_url": ""})
    assert result.returncode != 0 and "the db group has 2 hosts" in result.stdout, result.stdout[-2000:]
    tasks = [line for line in result.stdout.splitlines() if line.startswith("TASK [")]
    assert tasks[-1].startswith("TASK [Require one source for the app's database]"), tasks
    assert not [task for task in tasks if " : " in task], tasks  # no role's task ran
