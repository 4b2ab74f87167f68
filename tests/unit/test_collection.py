"""The repository as the collection hardening.stack: it builds, installs from
the tarball, and its roles and plugins resolve by FQCN from the installed copy
(with the checkout's own roles and link out of reach). A real run of a role
from the installed copy is in tests/sandbox (it needs a host)."""

import ast
import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collection")
    build = subprocess.run([BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp, ROOT],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = tmp / "hardening-stack-1.0.0.tar.gz"
    install = subprocess.run([BIN / "ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", tmp / "cols",
                              tarball], cwd=tmp, capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    return {"tmp": tmp, "tarball": tarball, "path": tmp / "cols/ansible_collections/hardening/stack"}


def outside_checkout_env(installed):
    """Only the installed copy: no checkout roles, no link, not the project's ansible.cfg."""
    (installed["tmp"] / "ansible.cfg").write_text("[defaults]\n")
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed["tmp"] / "cols"),
                ANSIBLE_ROLES_PATH=str(installed["tmp"] / "no-roles"))


def test_the_tarball_holds_the_roles_and_plugins_and_no_test_bed(installed):
    names = tarfile.open(installed["tarball"]).getnames()
    for role in ("ssh_hardening", "ufw", "django_app", "nginx", "certbot"):
        assert f"roles/{role}/tasks/main.yml" in names
        assert f"roles/{role}/meta/argument_specs.yml" in names
    for plugin in ("action/host_state.py", "action/managed.py", "plugin_utils/host_state.py",
                   "filter/validators.py"):
        assert f"plugins/{plugin}" in names
    assert not [n for n in names if n.split("/")[0] in (
        ".venv", "molecule", "tests", "testbed", "collections", "bench", "bin", ".git")]
    assert json.loads(tarfile.open(installed["tarball"]).extractfile("MANIFEST.json").read())[
        "collection_info"]["name"] == "stack"


def test_roles_and_plugins_resolve_by_fqcn_from_the_installed_copy(installed):
    env = outside_checkout_env(installed)
    play = installed["tmp"] / "play.yml"
    # Parsing the roles resolves every task's action (hardening.stack.host_state, .managed) by FQCN.
    play.write_text("- hosts: localhost\n  gather_facts: false\n"
                    "  roles: [hardening.stack.ssh_hardening, hardening.stack.ufw, hardening.stack.django_app,"
                    " hardening.stack.nginx, hardening.stack.certbot]\n"
                    "  tasks:\n    - debug: {msg: \"{{ ['x'] | hardening.stack.hostname_errors('v') }}\"}\n")
    check = subprocess.run([BIN / "ansible-playbook", "--syntax-check", play], cwd=installed["tmp"], env=env,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # Without the installed copy the same playbook cannot find the roles: the check above is not vacuous.
    missing = subprocess.run([BIN / "ansible-playbook", "--syntax-check", play], cwd=installed["tmp"],
                             env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(installed["tmp"] / "none")),
                             capture_output=True, text=True, check=False)
    assert missing.returncode != 0


def test_galaxy_dependencies_match_requirements_yml():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]
    required = {c["name"]: c["version"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    for name, version in galaxy.items():
        assert required.get(name) == version, name


@pytest.mark.parametrize("plugin", sorted((ROOT / "plugins").glob("*/*.py")), ids=lambda path: path.name)
def test_plugin_documentation_is_valid_yaml(plugin):
    """ansible-doc and ansible-lint read these blocks as YAML; a stray colon breaks them."""
    for node in ast.parse(plugin.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "RETURN"):
            assert isinstance(yaml.safe_load(node.value.value), dict), node.targets[0].id
