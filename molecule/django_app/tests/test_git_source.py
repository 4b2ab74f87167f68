"""A deploy from a git repository at a tag goes live (Debian 12 only, see molecule.yml).

The repository lives inside the container (file://), made from the example
project with another VERSION, so the health endpoint shows which release answers.
"""

import json
import os

import pytest

from helpers import BASE, health
from testlib import run_playbook

# Disruptive: another release goes live (after test_failed_deploys.py).
pytestmark = pytest.mark.disruptive(order=2)

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = "/srv/git/exampleapp.git"


def test_a_git_source_at_a_tag_is_deployed(host, published):
    name = host.backend.get_hostname()
    if not name.endswith("bookworm"):
        pytest.skip("the git source is exercised on Debian 12 only (see molecule.yml)")
    live = host.check_output(f"readlink {BASE}/current")
    host.check_output(
        "set -e; command -v git >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null;"
        " rm -rf /tmp/src /srv/git; cp -a --no-preserve=ownership $(readlink -f "
        f"{BASE}/current) /tmp/src; cd /tmp/src; rm -rf venv .django_app_ready production_settings.py;"
        " find . -name __pycache__ -prune -exec rm -rf {} +;"
        " sed -i 's/^VERSION = .*/VERSION = \"git-v2\"/' exampleapp/__init__.py;"
        " git init -q -b main . && git add -A && git -c user.name=t -c user.email=t@t commit -qm v2 && git tag v2;"
        f" git clone -q --bare /tmp/src {REPO}")
    result = run_playbook(os.path.join(SCENARIO, "bad_input.yml"), "--limit", name, "-e", json.dumps({
        "django_app_source_path": "", "django_app_source_git": f"file://{REPO}", "django_app_source_version": "v2"}))
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.check_output(f"readlink {BASE}/current") != live
    assert health(published["https"])["version"] == "git-v2"
    assert host.package("git").is_installed
