"""Bad setup input gets a clear message, and a failed image build leaves nothing."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_as_nobody(*command):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command],
                          capture_output=True, text=True, timeout=60, check=False, cwd="/")


@pytest.mark.parametrize("command", [["bin/test"], ["bin/sandbox", "up"], ["bin/sandbox", "down"]])
def test_without_root_the_commands_say_how_to_run_them(command):
    # A copy the unprivileged user can read wherever the checkout lives.
    copy = Path(tempfile.mkdtemp(prefix="setup-errors-"))
    try:
        shutil.copytree(ROOT / "bin", copy / "bin")
        for path in (copy, *copy.rglob("*")):
            path.chmod(0o755)
        result = run_as_nobody(str(copy / command[0]), *command[1:])
    finally:
        shutil.rmtree(copy)
    assert result.returncode != 0
    assert "needs root" in result.stderr
    assert "sudo" in result.stderr


def test_a_failed_image_build_leaves_no_image_and_no_tree():
    repo = "localhost/hardening-testbed-failtest"
    env = dict(os.environ, TESTBED_IMAGE_REPO=repo,
               # Nothing listens on port 9 of loopback: debootstrap fails at once.
               TESTBED_MIRROR="http://127.0.0.1:9/debian",
               CONTAINERS_CONF=str(ROOT / "testbed" / "containers.conf"))
    before = set(glob.glob("/var/tmp/testbed-build.*"))
    result = subprocess.run(["bash", str(ROOT / "testbed" / "build-image.sh"), "bookworm"],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode != 0
    assert "FAILED" in result.stderr and "nothing was tagged" in result.stderr
    images = subprocess.run(["podman", "images", "--noheading", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, env=env, check=True).stdout
    assert repo not in images
    assert set(glob.glob("/var/tmp/testbed-build.*")) == before


def test_unknown_suite_is_refused():
    result = subprocess.run(["bash", str(ROOT / "testbed" / "build-image.sh"), "sid"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "usage" in result.stderr
