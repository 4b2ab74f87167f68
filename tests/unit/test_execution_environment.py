"""execution-environment.yml: ansible-builder accepts it and it pins what requirements.txt pins."""

import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILDER = pathlib.Path(sys.executable).with_name("ansible-builder")


def pinned(package: str) -> str:
    text = (ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)", text, re.M).group(1)


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = tmp_path / "context"
    result = subprocess.run(
        [str(BUILDER), "create", "-f", str(ROOT / "execution-environment.yml"), "-c", str(context)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text()
    assert f"ansible-core=={pinned('ansible-core')}" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    # The collections the EE installs are exactly the project's requirements.yml.
    built = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert built == yaml.safe_load((ROOT / "requirements.yml").read_text())
    shutil.rmtree(context)


def test_execution_environment_pins_the_tested_ansible_core():
    spec = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert spec["version"] == 3
    assert spec["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={pinned('ansible-core')}"
    assert spec["dependencies"]["galaxy"] == "requirements.yml"
    # The runner the EE ships is the one tests/sandbox runs site.yml through.
    assert spec["dependencies"]["ansible_runner"]["package_pip"] == f"ansible-runner=={pinned('ansible-runner')}"
