"""The role's rollback switches back to the release live before the live one, static
files included (Debian 12 only, after the git-source deploy: see molecule.yml).
playbooks/rollback.yml itself, and its refusal when there is nothing to go
back to, run on the sandbox (tests/sandbox/test_own_project.py).

The git release's home page has another heading and its stylesheet another
line, so its manifest names another hashed file: after the rollback the page
must be the first release's and name the first release's stylesheet."""

import os
import re

import pytest

from helpers import BASE, home_page, request
from testlib import run_playbook

# Disruptive: the live release changes (after test_git_source.py).
pytestmark = pytest.mark.disruptive(order=3)

PLAYBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rollback.yml")
STYLESHEET = re.compile(r'href="(/static/exampleapp/style\.[0-9a-f]{12}\.css)"')


def test_a_rollback_serves_the_previous_release_and_its_static_files(host, published):
    name = host.backend.get_hostname()
    if not name.endswith("bookworm"):
        pytest.skip("two releases are deployed on Debian 12 only (see molecule.yml)")
    git_release = host.check_output(f"readlink {BASE}/current")
    git_page = home_page(published["https"])
    assert "Example app git-v2" in git_page, "test_git_source.py's release should be live"

    result = run_playbook(PLAYBOOK, "--limit", name)
    assert result.returncode == 0, result.stdout[-3000:]

    first_release = host.check_output(f"readlink {BASE}/current")
    assert first_release != git_release
    page = home_page(published["https"])
    assert "<h1>Example app</h1>" in page
    stylesheet = STYLESHEET.search(page).group(1)
    assert stylesheet != STYLESHEET.search(git_page).group(1)
    response = request(published["https"], stylesheet)
    assert response.status == 200
    assert response.body == host.file(f"{first_release}/static/exampleapp/style.css").content

