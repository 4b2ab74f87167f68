"""SQLite's backups (role backup, engine sqlite): the timer's unit backs up the live database, the
app cannot touch the backups, and a restore brings back what was destroyed while the app runs."""

import uuid

import pytest

from helpers import APP, MANAGE, guestbook, sign_guestbook, signed_in

BACKUP = f"/usr/local/sbin/{APP}-backup"
BACKUP_DIR = f"/var/backups/{APP}"
DATA_DIR = f"/var/lib/{APP}"


def backups(host) -> list[str]:
    return [line.split("\t")[0] for line in host.check_output(f"{BACKUP} list").splitlines()]


# Restores the database (to a backup it makes itself): after the tests that only read.
@pytest.mark.disruptive
def test_a_backup_restores_entries_destroyed_after_it(host, published):
    port = published["https"]
    user, password = f"b{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    host.check_output(f"{MANAGE} shell -c \"from django.contrib.auth.models import User; "
                      f"User.objects.create_user('{user}', password='{password}')\"")
    browser = signed_in(port, user, password)
    kept, lost = f"kept {uuid.uuid4().hex[:8]}", f"after {uuid.uuid4().hex[:8]}"
    sign_guestbook(port, browser, kept)

    # The timer's own unit (sandboxed, root with two capabilities) backs up the live database.
    assert host.service(f"{APP}-backup.timer").is_enabled
    before = backups(host)
    host.check_output(f"systemctl start {APP}-backup.service")
    made = [name for name in backups(host) if name not in before]
    assert len(made) == 1, (before, backups(host))
    assert host.file(f"{BACKUP_DIR}/{made[0]}/default.sqlite3.gz").exists
    # Root's: the app, which can write its database, can neither read nor delete its backups.
    assert host.file(BACKUP_DIR).user == "root" and host.file(BACKUP_DIR).mode == 0o700
    assert host.run(f"runuser -u {APP} -- ls {BACKUP_DIR}").rc != 0
    # The backup made no file the app cannot open beside its database (SQLite's -wal, -shm).
    assert host.check_output(f"find {DATA_DIR} ! -user {APP}") == ""

    # The app still writes; then the entries are destroyed.
    sign_guestbook(port, browser, lost)
    host.check_output(f"{MANAGE} shell -c \"from guestbook.models import Entry; Entry.objects.all().delete()\"")
    assert kept not in guestbook(port, browser)

    restored = host.run(f"{BACKUP} restore default {made[0]}")
    assert restored.rc == 0, restored.stderr
    page = guestbook(port, browser)
    assert kept in page and lost not in page
    # What the restore replaced was kept first; the app writes to the restored database.
    assert backups(host)[0].endswith("-pre-restore")
    sign_guestbook(port, browser, lost)
    assert lost in guestbook(port, browser)
    assert host.check_output(f"find {DATA_DIR} ! -user {APP}") == ""
