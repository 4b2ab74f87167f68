"""site.yml's tags select one layer: a tag runs its roles' tasks and no other role's.

Argument-spec validation is tagged `always` by Ansible itself (bad input is
refused whichever layer runs), so it is left out of the comparison.
"""

import functools
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")

LAYERS = {
    "base": {"host_baseline", "ssh_hardening", "ufw"},
    "host_baseline": {"host_baseline"},
    "ssh_hardening": {"ssh_hardening"},
    "ufw": {"ufw"},
    # The database's certificate comes from internal_tls, imported by postgresql;
    # backups from role backup, imported by postgresql and django_app (SQLite).
    # The app and web plays include internal_tls (a fleet only), which
    # --list-tasks cannot show: test_a_fleets_certificates_follow_their_layer.
    "db": {"postgresql", "internal_tls", "backup"},
    "postgresql": {"postgresql", "internal_tls", "backup"},
    "app": {"django_app", "backup"},
    "django_app": {"django_app", "backup"},
    "web": {"nginx", "certbot"},
    "nginx": {"nginx"},
    "certbot": {"certbot"},
}


def roles_with_tasks(tags: str | None) -> set[str]:
    if tags is None:
        return {role for role, _, task_tags in listed_tasks(None) if "always" not in task_tags}
    return {role for role, _ in selected(tags)}


def test_without_tags_every_role_runs():
    assert roles_with_tasks(None) == {"host_baseline", "ssh_hardening", "ufw", "postgresql", "internal_tls", "backup",
                                      "django_app", "nginx", "certbot"}


@pytest.mark.parametrize("tag", sorted(LAYERS))
def test_a_tag_runs_only_its_layer(tag):
    assert roles_with_tasks(tag) == LAYERS[tag]


SSHD_CONFIG = "Write sshd_config, proven by a test login before it goes live"

# Concern tags inside each role: one such tag runs its role's validation,
# state read and its concern, never another concern's tasks.
CONCERNS = {
    "ssh_hardening_accounts": ("ssh_hardening", "Grant or remove sudo rights", SSHD_CONFIG),
    "ssh_hardening_host_keys": ("ssh_hardening", "Generate missing or undersized host keys", "Create the admin users"),
    "ssh_hardening_config": ("ssh_hardening", SSHD_CONFIG, "Create the admin users"),
    "host_baseline_sysctl": ("host_baseline", "Write the kernel and network settings", "Block the unused kernel modules"),
    "host_baseline_audit": ("host_baseline", "Write the audit rules", "Write the kernel and network settings"),
    "host_baseline_updates": ("host_baseline", "Enable and start apt's daily timers", "Write the audit rules"),
    "ufw_rules": ("ufw", "Add the declared rules", "Enable UFW now and at boot"),
    "ufw_policy": ("ufw", "Enable UFW now and at boot", "Add the declared rules"),
    # Every django_app concern validates its input, the backup settings' included (role backup).
    "django_app_install": (("django_app", "backup"), "Create the app's directories", "Install the gunicorn service unit"),
    "django_app_release": (("django_app", "backup"), "Name the release", "Install the gunicorn service unit"),
    "django_app_service": (("django_app", "backup"), "Install the gunicorn service unit", "Name the release"),
    "nginx_install": ("nginx", "Install nginx, logrotate and openssl", "Rotate nginx's logs"),
    "nginx_config": ("nginx", "Rotate nginx's logs", "Obtain the certificate"),
    "nginx_sandbox": ("nginx", "Sandbox nginx.service with a systemd drop-in", "Rotate nginx's logs"),
    # Role backup's tasks, imported by postgresql and by django_app.
    "postgresql_backups": (("postgresql", "backup"), "Enable the backup timer",
                           "Make the app's role (SCRAM password, no other rights)"),
    "django_app_backups": (("django_app", "backup"), "Enable the backup timer", "Name the release"),
    "certbot_renewal": ("certbot", "Enable Debian's renewal timer", "Decide whether certbot must be asked"),
    "certbot_certificate": ("certbot", "Decide whether certbot must be asked", "Enable Debian's renewal timer"),
}


@functools.cache
def listed_tasks(tags: str | None, playbook: str = "site.yml") -> list[tuple[str, str, frozenset]]:
    """(role, task name, tags) of each task --list-tasks shows, once per tag selection."""
    args = [str(PLAYBOOK), playbook, "--list-tasks"] + (["--tags", tags] if tags else [])
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return [(role, name, frozenset(t.strip() for t in task_tags.split(",")))
            for role, name, task_tags in re.findall(r"^\s+([a-z_]+) : (.*?)\tTAGS: \[(.*)\]$", result.stdout, re.M)]


def selected(tag: str) -> list[tuple[str, str]]:
    """The tasks --tags TAG runs, read off the one untagged listing: those carrying
    TAG, less those tagged `always` (argument specs, which run under any tag)."""
    return [(role, name) for role, name, tags in listed_tasks(None) if tag in tags and "always" not in tags]


def test_a_fleets_certificates_follow_their_layer():
    """The app and web plays include internal_tls: the include and the role's tasks (apply)
    carry the layer's tag and internal_tls, so either tag runs it."""
    for book, layer in (("playbooks/app.yml", "app"), ("playbooks/web.yml", "web")):
        tasks = yaml.safe_load((ROOT / book).read_text())[0]["tasks"]
        [include] = [task["ansible.builtin.include_role"] | {"tags": task["tags"]} for task in tasks
                     if task.get("ansible.builtin.include_role", {}).get("name") == "internal_tls"]
        assert set(include["tags"]) == set(include["apply"]["tags"]) == {layer, "internal_tls"}, book


def test_the_listing_selects_as_ansible_does():
    for tag in ("web", "ssh_hardening_config"):
        real = [(role, name) for role, name, tags in listed_tasks(tag) if "always" not in tags]
        assert real == selected(tag)


@pytest.mark.parametrize("tag", sorted(CONCERNS))
def test_a_concern_tag_runs_only_its_concern(tag):
    roles, wanted, unwanted = CONCERNS[tag]
    tasks = selected(tag)
    assert {r for r, _ in tasks} == ({roles} if isinstance(roles, str) else set(roles))
    names = {name for _, name in tasks}
    assert wanted in names
    assert unwanted not in names


def task_names(path: pathlib.Path) -> list[str]:
    """Names of the tasks in a task file, blocks opened, imports (of tasks and roles) and includes left out."""
    names = []

    def walk(tasks):
        for task in tasks or []:
            if "block" in task:
                # --list-tasks shows a block's tasks, not its rescue or always part.
                walk(task["block"])
            elif not any(key.endswith(("import_tasks", "include_tasks", "import_role", "include_role")) for key in task):
                names.append(task["name"])

    walk(yaml.safe_load(path.read_text()))
    return names


# Task files reached by a dynamic include (the source kind is chosen at run time).
DYNAMIC = {"django_app/tasks/source_git.yml", "django_app/tasks/source_path.yml"}


def test_the_web_roles_argument_specs_run_in_the_web_play_before_any_change():
    """web.yml validates nginx and certbot first (tasks_from: validate selects the
    entry point `validate`); their argument specs must run there, under any tag."""
    names = [(role, name) for role, name, tags in listed_tasks("nginx_config") if "always" in tags]
    assert any(role == "nginx" and "arg spec 'validate'" in name for role, name in names), names
    assert any(role == "certbot" and "arg spec 'validate'" in name for role, name in names), names
    web = [(role, name) for role, name, _ in listed_tasks(None) if role in ("nginx", "certbot")]
    first_change = web.index(("nginx", "Read which of the packages are installed"))
    assert {role for role, name in web[:first_change] if "Check" in name} == {"nginx", "certbot"}


def test_list_tasks_shows_every_role_task():
    """Every task of site.yml's roles, of their audit entry point (tasks/controls.yml)
    in the audit playbook's listing, and of django_app's rollback in the rollback playbook's."""
    listed = {(role, name) for role, name, _ in listed_tasks(None)}
    other_playbooks = {"controls.yml": {(role, name) for role, name, _ in listed_tasks(None, AUDIT)},
                       "rollback.yml": {(role, name) for role, name, _ in listed_tasks(None, ROLLBACK)}}
    missing = []
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        relative = str(path.relative_to(ROOT / "roles"))
        if relative in DYNAMIC:
            continue
        role = relative.split("/")[0]
        shown = other_playbooks.get(path.name, listed)
        missing += [f"{relative}: {name}" for name in task_names(path)
                    if (role, name) not in shown and not re.search(r"\{\{", name)]
    assert not missing, missing


AUDIT = "playbooks/audit.yml"
ROLLBACK = "playbooks/rollback.yml"
AUDIT_LAYERS = {
    "audit_baseline": {"host_baseline"}, "audit_ssh": {"ssh_hardening"}, "audit_firewall": {"ufw"},
    # The app's input checks include its backup settings' (role backup's validate).
    "audit_app": {"django_app", "backup"}, "audit_web": {"nginx", "certbot"},
}


def test_an_audit_tag_reads_only_its_layer():
    """The audit's tags select its controls by layer (read off one listing, as
    selected() does for site.yml); the report is tagged always."""
    tasks = listed_tasks(None, AUDIT)
    for tag, roles in AUDIT_LAYERS.items():
        assert {role for role, _, tags in tasks if tag in tags and "always" not in tags} == roles, tag
    report = subprocess.run([str(PLAYBOOK), AUDIT, "--list-tasks"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True).stdout
    assert re.search(r"Write the report and fail when a control failed\tTAGS: \[always\]", report)


def test_the_audit_writes_nothing():
    """Every play of the audit runs in check mode; its tasks come from the roles'
    read-only entry point, the report and the error record."""
    plays = yaml.safe_load((ROOT / AUDIT).read_text())
    assert all(play.get("check_mode") is True for play in plays if play["name"] not in ("Start the report", "Report"))
    entry_points = [task["block"][0]["ansible.builtin.import_role"]["tasks_from"]
                    for play in plays for task in play.get("tasks", []) if "block" in task]
    assert entry_points == ["controls"] * 6
