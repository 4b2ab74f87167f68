"""The fleet's one database: every app host reads and writes the same data in
PostgreSQL on the db host, over TLS with the server verified; the db host
admits the app hosts only. A deploy migrates it once, from one app host."""

import json
import os
import shutil
import threading
import time
import uuid

import pytest

from fleetlib import (APP, DB_PORT, FAIL_TIMEOUT, PROJECT, address, fleet_host, guestbook, sign_guestbook,
                      through_app, timed_through_app)
from testlib import broken_migration, https_request, run_playbook

testinfra_hosts = ["ansible://fleet-web"]

SITE = os.path.join(PROJECT, "site.yml")
ROLLBACK = os.path.join(PROJECT, "playbooks", "rollback.yml")
EXAMPLE = os.path.join(PROJECT, "examples", "exampleapp")
APP_PYTHON = f"/srv/{APP}/current/venv/bin/python"
CONNECT = f"{APP_PYTHON} -c \"import os, psycopg; psycopg.connect(os.environ['URL']).close()\""


def database_url(app) -> str:
    return app.check_output(f"sed -n \"s/^DATABASE_URL='\\(.*\\)'$/\\1/p\" /etc/{APP}/env")


def app_connections(db) -> list[list[str]]:
    """[client address, ssl, TLS version] of the app's connections, as the server sees them."""
    rows = db.check_output(
        "runuser -u postgres -- psql -XAtF ' ' -d postgres -c \"SELECT a.client_addr, s.ssl, s.version "
        f"FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '{APP}'\"")
    return [row.split() for row in rows.splitlines()]


def test_an_entry_posted_through_the_site_is_read_back_through_each_app_host(host, published, pebble_root, visitor):
    """Signed in through the balanced site (the session itself is in the shared database), an
    entry posted once is on the guestbook each app host serves."""
    text = f"shared entry {uuid.uuid4().hex[:10]}"
    sign_guestbook(published["https"], pebble_root, visitor, text)
    for name in ("app1", "app2"):
        status, body = through_app(host, fleet_host(name), "/guestbook/", visitor["Cookie"])
        assert status == "200" and text in body, (name, status, body[:300])


def test_the_database_admits_the_app_hosts_only(host):
    """The web host shares the app hosts' network and is refused. (The role scenario,
    postgresql, tries the test machine, plain connections, wrong passwords and names.)"""
    db, app1 = fleet_host("db"), fleet_host("app1")
    probe = (f"python3 -c \"import socket; socket.create_connection(('{address(db)}', {DB_PORT}), "
             "timeout=3).close()\"")
    assert app1.run(probe).rc == 0, "an app host must reach PostgreSQL"
    assert host.run(probe).rc != 0, "the web host must not"
    assert db.socket(f"tcp://{address(db)}:{DB_PORT}").is_listening


def test_the_apps_connections_are_tls_with_the_server_verified(published, pebble_root):
    """The composed DATABASE_URL verifies the server (its chain against the fleet's CA, its name
    against the address), and the server sees every app connection over TLS, from the app hosts.
    The app's own driver, given the URL without TLS, is refused."""
    db, app1, app2 = fleet_host("db"), fleet_host("app1"), fleet_host("app2")
    url = database_url(app1)
    assert url == database_url(app2)
    assert url.startswith(f"postgres://{APP}:") and f"@{address(db)}:{DB_PORT}/{APP}?" in url
    assert url.endswith("?sslmode=verify-full&sslrootcert=/etc/hardening-tls/ca.crt"), url
    # Each health check asks the database; connections live on for CONN_MAX_AGE.
    for _ in range(8):
        assert https_request(published["https"], "sandbox.test", "/health/", cafile=pebble_root).status == 200
    connections = app_connections(db)
    assert connections and {row[0] for row in connections} <= {address(app1), address(app2)}, connections
    assert all(row[1] == "t" and row[2].startswith("TLSv1.") for row in connections), connections
    assert app1.run(f"URL={url!r} {CONNECT}").rc == 0
    plain = app1.run(f"URL={url.replace('sslmode=verify-full', 'sslmode=disable')!r} {CONNECT}")
    assert plain.rc != 0 and "no encryption" in plain.stderr, plain.stderr


RECORD_MIGRATION = '''import socket

from django.db import migrations, models


def record(apps, schema_editor):
    apps.get_model("guestbook", "MigrationRun").objects.create(host=socket.gethostname())


class Migration(migrations.Migration):
    dependencies = [("guestbook", "0001_initial")]
    operations = [
        migrations.CreateModel("MigrationRun", [("id", models.AutoField(primary_key=True)),
                                                ("host", models.CharField(max_length=100))]),
        migrations.RunPython(record),
    ]
'''

BROKEN_MIGRATION = broken_migration("0002_migrationrun")
MIGRATIONS = "guestbook/migrations/"


# A release whose WSGI module takes longer to import than nginx waits for a
# connection (nginx_proxy_connect_timeout, 5 s): each nginx worker that asks an
# app host while it restarts gives up on it, and skips it for the fail timeout.
SLOW_IMPORT = 7
with open(os.path.join(EXAMPLE, "exampleapp", "wsgi.py")) as _wsgi:
    SLOW_WSGI = _wsgi.read() + f"\nimport time  # noqa: E402\n\ntime.sleep({SLOW_IMPORT})\n"


def source_with(tmp_path, files: dict) -> str:
    """A copy of the example project with FILES (path in the project: text) added: a new release."""
    source = tmp_path / f"exampleapp-{uuid.uuid4().hex[:8]}"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name, text in files.items():
        (source / name).write_text(text)
    (source / "RELEASE").write_text(uuid.uuid4().hex)
    return str(source)


def deploy(source: str):
    """A new release from SOURCE on the converged fleet: site.yml's release concern only (facts of
    every host are gathered, as in any run; the packages, units and CA are in place)."""
    return run_playbook(SITE, "--tags", "django_app_release", "-e", json.dumps({"app_source_path": source}))


def live_releases() -> dict:
    return {name: fleet_host(name).check_output(f"readlink /srv/{APP}/current") for name in ("app1", "app2")}


def while_requesting(action, port: int, cafile: str):
    """(ACTION's result, the status or error of each health request made through the site meanwhile)."""
    answers, done = [], threading.Event()

    def loop():
        while not done.is_set():
            try:
                answers.append(https_request(port, "sandbox.test", "/health/", cafile=cafile).status)
            except OSError as error:
                answers.append(repr(error))
            time.sleep(0.1)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        return action(), answers
    finally:
        done.set()
        thread.join()


def restart_window(name: str, since: float) -> tuple[float, float]:
    """When gunicorn on app host NAME began stopping and was started again, after SINCE (its journal)."""
    lines = fleet_host(name).check_output(
        f"journalctl -q -o short-unix -u {APP}-gunicorn.service --since @{int(since)} "
        "| grep -E ' (Stopping|Started) '").splitlines()
    stopping = [float(line.split()[0]) for line in lines if " Stopping " in line]
    started = [float(line.split()[0]) for line in lines if " Started " in line]
    assert stopping and started, lines
    return stopping[0], started[-1]


@pytest.mark.disruptive(order=1)
def test_a_deploy_migrates_once_a_failed_one_switches_no_host_and_rollback_undoes_it(host, published,
                                                                                    pebble_root, tmp_path):
    """A new migration runs on one app host, for both, after both built and after the db host
    dumped the database; then both serve the release, restarted one at a time while requests
    through the site all succeed, though the release loads slower than nginx waits (a
    restart returns once it has loaded: it answers at once). A migration that fails leaves
    both on that release, and the site answering. playbooks/rollback.yml then puts both back
    on the release before, one host at a time, while the site keeps answering."""
    db = fleet_host("db")
    before = live_releases()
    backups = db.check_output("postgresql-backup list")
    since = time.time()
    release = source_with(tmp_path, {MIGRATIONS + "0002_migrationrun.py": RECORD_MIGRATION,
                                     "exampleapp/wsgi.py": SLOW_WSGI})
    first, answers = while_requesting(lambda: deploy(release), published["https"], pebble_root)
    assert first.returncode == 0, first.stdout[-3000:]
    # The site answered throughout; the app hosts restarted on the release one after the other,
    # the second once every nginx worker could take the first back.
    assert answers and set(answers) == {200}, [answer for answer in answers if answer != 200][:5]
    (stop1, up1), (stop2, up2) = restart_window("app1", since), restart_window("app2", since)
    assert up1 <= stop2 or up2 <= stop1, ((stop1, up1), (stop2, up2))
    assert max(stop2 - up1, stop1 - up2) >= FAIL_TIMEOUT, ((stop1, up1), (stop2, up2))
    # The db host dumped the database first, once.
    new_backups = set(db.check_output("postgresql-backup list").splitlines()) - set(backups.splitlines())
    assert len(new_backups) == 1 and "-pre-migrate" in new_backups.pop(), new_backups
    runs = db.check_output(f"runuser -u postgres -- psql -XAt -d {APP} -c 'SELECT host FROM guestbook_migrationrun'")
    assert len(runs.splitlines()) == 1 and runs in ("app1", "app2"), runs
    migrated = live_releases()
    assert all(migrated[name] != before[name] for name in migrated), (before, migrated)
    # A restart returns once the app has loaded (SLOW_IMPORT): then it answers at once.
    app1 = fleet_host("app1")
    started = time.monotonic()
    app1.check_output(f"systemctl restart {APP}-gunicorn.service")
    assert time.monotonic() - started >= SLOW_IMPORT
    status, _, seconds = timed_through_app(host, app1, "/health/")
    assert status == "200" and seconds < 2.5, (status, seconds)

    second = deploy(source_with(tmp_path, {MIGRATIONS + "0002_migrationrun.py": RECORD_MIGRATION,
                                           MIGRATIONS + "0003_explode.py": BROKEN_MIGRATION}))
    assert second.returncode != 0
    assert "this migration fails on purpose" in second.stdout
    assert second.stdout.count("was NOT switched in") >= 2, second.stdout[-3000:]
    assert live_releases() == migrated
    assert https_request(published["https"], "sandbox.test", "/health/", cafile=pebble_root).status == 200

    rollback, answers = while_requesting(lambda: run_playbook(ROLLBACK), published["https"], pebble_root)
    assert rollback.returncode == 0, rollback.stdout[-3000:]
    assert answers and set(answers) == {200}, [answer for answer in answers if answer != 200][:5]
    assert live_releases() == before


@pytest.mark.disruptive(order=2)
def test_a_restored_backup_brings_back_destroyed_data_and_the_site_serves_it(published, pebble_root, visitor):
    """An entry made before a backup, deleted after it, is back once the db host restores the
    backup (into a new database swapped in, the app's connections cut); every request through
    the site afterwards succeeds: the app hosts reconnect."""
    db = fleet_host("db")
    text = f"entry before the backup {uuid.uuid4().hex[:10]}"
    sign_guestbook(published["https"], pebble_root, visitor, text)
    db.check_output("postgresql-backup run --label before-loss")
    db.check_output(f"runuser -u postgres -- psql -XAt -d {APP} -c 'DELETE FROM guestbook_entry'")
    assert text not in guestbook(published["https"], pebble_root, visitor)
    restored = db.run(f"postgresql-backup restore {APP}")
    assert restored.rc == 0, restored.stderr
    # Spread over both hosts' workers, whose pooled connections the restore cut.
    pages = [https_request(published["https"], "sandbox.test", "/guestbook/", headers=visitor, cafile=pebble_root)
             for _ in range(12)]
    assert [page.status for page in pages] == [200] * 12, [page.body[:200] for page in pages if page.status != 200]
    assert all(text in page.body.decode() for page in pages)
