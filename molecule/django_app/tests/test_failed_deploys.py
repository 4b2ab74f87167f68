"""A deploy whose settings import fails, whose locked hashes do not match, whose deploy check or migration
fails leaves the live release serving, and the run's failure message starts with the cause: the
exception, pip's error.

Debian 12 only (see molecule.yml): each case builds a release with its virtualenv.
"""

import json
import os
import shutil

import pytest

from helpers import APP, BASE, home_page
from testlib import broken_migration, failure_message, run_playbook

# Disruptive, and before test_git_source.py: each case expects release 1 live.
pytestmark = pytest.mark.disruptive(order=1)

BACKUP = f"/usr/local/sbin/{APP}-backup"
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "examples", "exampleapp")

BROKEN_MIGRATION = broken_migration("0001_initial")


def broken_copy(tmp_path, kind: str) -> str:
    source = tmp_path / "exampleapp"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    home = source / "templates" / "home.html"
    home.write_text(home.read_text().replace("<h1>Example app</h1>", "<h1>Example app 2-broken</h1>"))
    # Secrets and local state lying in the project directory: never packed (pack_source.py).
    for bait in (".env", "deploy.key", "node_modules/left-pad/index.js", "exampleapp/local_settings.py"):
        (source / bait).parent.mkdir(parents=True, exist_ok=True)
        (source / bait).write_text("SECRET = 'bait'\n")
    if kind == "migration":
        (source / "guestbook" / "migrations" / "0002_explode.py").write_text(BROKEN_MIGRATION)
    elif kind == "import":  # the project's settings import a package its requirements lack
        settings = source / "exampleapp" / "settings.py"
        settings.write_text("import exampleapp_vendor_package  # not installed\n" + settings.read_text())
    elif kind == "hashes":  # a lock file whose hash does not match what the index serves
        (source / "requirements.txt").write_text(f"Django==5.2.19 --hash=sha256:{'0' * 64}\n")
    return str(source)


CASES = [
    ("migration", {}, "this migration fails on purpose", "Apply the migrations"),
    ("import", {}, "ModuleNotFoundError: No module named 'exampleapp_vendor_package'", "check --deploy"),
    ("hashes", {"django_app_pip_require_hashes": True}, "DO NOT MATCH THE HASHES",
     "Install the project's requirements"),
    ("check", {"django_app_extra_settings": "DEBUG = True\nSILENCED_SYSTEM_CHECKS = [\"security.W018\"]"},
     "django_app_extra_settings changes what the role enforces: DEBUG",
     "check --deploy"),
]


@pytest.mark.parametrize("kind,extra,needle,step", CASES, ids=[c[0] for c in CASES])
def test_a_failed_deploy_keeps_the_live_release(host, published, tmp_path, kind, extra, needle, step):
    name = host.backend.get_hostname()
    if not name.endswith("bookworm"):
        pytest.skip("failed deploys are exercised on Debian 12 only (see molecule.yml)")
    live = host.check_output(f"readlink {BASE}/current")
    assert "2-broken" not in home_page(published["https"])
    backups = host.check_output(f"{BACKUP} list")
    result = run_playbook(os.path.join(SCENARIO, "bad_input.yml"), "--limit", name, "-e",
                          json.dumps({"django_app_source_path": broken_copy(tmp_path, kind), **extra}))
    assert result.returncode != 0, result.stdout[-3000:]
    message = failure_message(result.stdout)
    # The cause first (the exception, pip's error), then where it happened.
    assert needle in message[0], message[:8]
    assert any("was NOT switched in" in line for line in message) and step in result.stdout
    assert host.check_output(f"readlink {BASE}/current") == live
    if kind == "migration":
        # The data as it was before the migration that failed: backed up first (SQLite, role backup).
        newest = host.check_output(f"{BACKUP} list").split("\n")[0]
        assert newest.split("\t")[0].endswith("-pre-migrate") and newest not in backups
    assert "2-broken" not in home_page(published["https"])
    # The attempt's directory shows what was packed: the project, not the bait.
    attempt = host.check_output(f"ls -td {BASE}/releases/*/ | head -n 1").rstrip("/")
    assert attempt != live and host.file(f"{attempt}/manage.py").exists
    for bait in (".env", "deploy.key", "node_modules", "exampleapp/local_settings.py"):
        assert not host.file(f"{attempt}/{bait}").exists, bait
