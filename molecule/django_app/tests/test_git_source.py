"""A deploy from a private git repository over SSH, at a tag, goes live (Debian 12
only, see molecule.yml).

The repository is served by the container's own sshd to a `git` account
(git-shell) that admits one deploy key. It is made from the example project
with another heading on its home page, which shows which release answers, and
another line in its stylesheet (test_rollback.py)."""

import os
import shlex

import pytest
import yaml

from helpers import APP, BASE, home_page
from testlib import run_playbook

# Disruptive: another release goes live (after test_failed_deploys.py).
pytestmark = pytest.mark.disruptive(order=2)

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = "/srv/git/exampleapp.git"
KEY = "/root/deploy-key"

SETUP = f"""set -e
command -v git >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null
rm -rf /tmp/src /srv/git {KEY} {KEY}.pub
cp -a --no-preserve=ownership $(readlink -f {BASE}/current) /tmp/src
cd /tmp/src
rm -rf venv .django_app_ready .static-manifest.json production_settings.py
find . -name __pycache__ -prune -exec rm -rf {{}} +
sed -i 's|<h1>Example app</h1>|<h1>Example app git-v2</h1>|' templates/home.html
printf '/* git-v2 */\n' >> static/exampleapp/style.css
git init -q -b main . && git add -A && git -c user.name=t -c user.email=t@t commit -qm v2 && git tag v2
id git >/dev/null 2>&1 || useradd --system --home-dir /srv/git --shell /usr/bin/git-shell git
mkdir -p /srv/git/.ssh
git clone -q --bare /tmp/src {REPO}
ssh-keygen -q -t ed25519 -N '' -C deploy -f {KEY}
cp {KEY}.pub /srv/git/.ssh/authorized_keys
chown -R git: /srv/git && chmod 0700 /srv/git/.ssh
systemctl start ssh
"""


def test_a_private_repository_over_ssh_with_a_deploy_key_is_deployed(host, published, tmp_path):
    name = host.backend.get_hostname()
    if not name.endswith("bookworm"):
        pytest.skip("the git source is exercised on Debian 12 only (see molecule.yml)")
    live = host.check_output(f"readlink {BASE}/current")
    host.check_output(f"sh -c {shlex.quote(SETUP)}")
    known_hosts = host.check_output("ssh-keyscan -t ed25519 127.0.0.1")
    # The key reaches the play as the vault would give it: in a file, not on a command line.
    values = tmp_path / "git.yml"
    values.write_text(yaml.safe_dump({
        "django_app_source_path": "", "django_app_source_git": f"ssh://git@127.0.0.1{REPO}",
        "django_app_source_version": "v2", "django_app_git_ssh_key": host.file(KEY).content_string,
        "django_app_git_known_hosts": known_hosts}))
    result = run_playbook(os.path.join(SCENARIO, "bad_input.yml"), "--limit", name, "-e", f"@{values}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.check_output(f"readlink {BASE}/current") != live
    assert "Example app git-v2" in home_page(published["https"])
    assert host.package("git").is_installed
    # The clone and the key are root's alone.
    repo, key = host.file(f"{BASE}/repo"), host.file(f"/etc/{APP}/git_deploy_key")
    assert (repo.user, repo.mode) == ("root", 0o700) and (key.user, key.mode) == ("root", 0o600)
    assert host.run(f"runuser -u {APP} -- cat {BASE}/repo/.git/config").rc != 0
