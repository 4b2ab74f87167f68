"""site.yml's tags select one layer: a tag runs its roles' tasks and no other role's.

Argument-spec validation is tagged `always` by Ansible itself (bad input is
refused whichever layer runs), so it is left out of the comparison.
"""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")

LAYERS = {
    "base": {"ssh_hardening", "ufw"},
    "ssh_hardening": {"ssh_hardening"},
    "ufw": {"ufw"},
    "app": {"django_app"},
    "django_app": {"django_app"},
    "web": {"nginx", "certbot"},
    "nginx": {"nginx"},
    "certbot": {"certbot"},
}


def roles_with_tasks(tags: str | None) -> set[str]:
    args = [str(PLAYBOOK), "site.yml", "--list-tasks"] + (["--tags", tags] if tags else [])
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    roles = set()
    for line in result.stdout.splitlines():
        match = re.match(r"\s+([a-z_]+) : (.*)\tTAGS:", line)
        if match and not match.group(2).startswith("Validating arguments against arg spec"):
            roles.add(match.group(1))
    return roles


def test_without_tags_every_role_runs():
    assert roles_with_tasks(None) == {"ssh_hardening", "ufw", "django_app", "nginx", "certbot"}


@pytest.mark.parametrize("tag", sorted(LAYERS))
def test_a_tag_runs_only_its_layer(tag):
    assert roles_with_tasks(tag) == LAYERS[tag]
