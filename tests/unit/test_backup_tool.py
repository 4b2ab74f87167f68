"""roles/backup/files/backup: which directories are backups, their order, the rotation,
what the command refuses before touching a database, and SQLite's backup and restore in
full (PostgreSQL's dumps and restore run against a real server in the postgresql scenario,
SQLite's again under a live app in the django_app scenario)."""

import gzip
import importlib.machinery
import importlib.util
import os
import sqlite3
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LOADER = importlib.machinery.SourceFileLoader(
    "backup_tool", str(ROOT / "roles" / "backup" / "files" / "backup"))
_SPEC = importlib.util.spec_from_loader("backup_tool", _LOADER)
backup = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(backup)

APP_UID = 4321
NAMES = ["20261129T031500Z", "20261130T031500Z", "20261130T101010Z-pre-migrate", "20261128T031500Z"]


@pytest.fixture
def directory(tmp_path):
    for name in NAMES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.dump").write_bytes(b"x" * 10)
    # Not backups: an unfinished run, a stray file, a copy under another name.
    (tmp_path / ".partial-20261130T120000Z").mkdir()
    (tmp_path / "20261201T000000Z").write_text("a file, not a directory")
    (tmp_path / "offsite-copy").mkdir()
    return tmp_path


def test_backups_newest_first_and_only_finished_ones(directory):
    assert backup.backups(str(directory)) == sorted(NAMES, reverse=True)
    assert backup.backups(str(directory / "missing")) == []


def test_rotation_keeps_the_newest_and_leaves_the_rest_alone(directory):
    backup.rotate(str(directory), 2)
    assert backup.backups(str(directory)) == ["20261130T101010Z-pre-migrate", "20261130T031500Z"]
    assert (directory / ".partial-20261130T120000Z").is_dir() and (directory / "offsite-copy").is_dir()


def test_list_shows_name_size_and_databases(directory, capsys):
    backup.list_backups({"directory": str(directory), "engine": "postgresql"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "20261130T101010Z-pre-migrate\t10 bytes\tapp"
    assert len(lines) == 4


@pytest.mark.parametrize("database,name,message", [
    ("other", "", "'other' is not backed up here"),
    ("app", "20250101T000000Z", "no backup '20250101T000000Z'"),
    ("app", "../../etc", "no backup '../../etc'"),
])
def test_restore_refuses_unknown_databases_and_backups(directory, capsys, database, name, message):
    with pytest.raises(SystemExit):
        backup.restore({"directory": str(directory), "engine": "postgresql", "databases": {"app": "app"}},
                       database, name)
    assert message in capsys.readouterr().err


def test_a_bad_label_is_refused_before_anything_is_made(directory, capsys):
    with pytest.raises(SystemExit):
        backup.run({"directory": str(directory), "engine": "postgresql", "databases": {"app": "app"}, "keep": 3,
                    "hook": ""}, "Bad Label")
    assert "--label" in capsys.readouterr().err
    assert backup.backups(str(directory)) == sorted(NAMES, reverse=True)



def test_one_run_at_a_time_holds_the_lock(directory):
    with backup.locked(str(directory)):
        with pytest.raises(SystemExit):
            backup.locked(str(directory))
    # Released: the next run gets it.
    backup.locked(str(directory)).close()


@pytest.fixture
def sqlite_app(tmp_path):
    """A live SQLite database in an app's data directory, and the settings that back it up."""
    data, store = tmp_path / "data", tmp_path / "backups"
    data.mkdir()
    store.mkdir(mode=0o700)
    database = data / "db.sqlite3"
    # As the app has it: WAL, its own account's file in its own directory.
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE entry (text TEXT)")
        connection.execute("INSERT INTO entry VALUES ('first')")
    connection.close()
    for path in (data, database):
        os.chown(path, APP_UID, APP_UID)
    return {"engine": "sqlite", "directory": str(store), "databases": {"default": str(database)},
            "keep": 2, "hook": ""}


@pytest.fixture
def clock(monkeypatch):
    """Each backup's time one hour after the last: two runs never share a name."""
    stamps = (f"20261130T{hour:02d}0000Z" for hour in range(24))

    class Clock:
        @staticmethod
        def now(_zone):
            return type("Stamp", (), {"strftime": lambda self, _format: next(stamps)})()

    monkeypatch.setattr(backup.datetime, "datetime", Clock)


def owners(config):
    """Who owns each file in the database's directory (-wal and -shm included)."""
    data = Path(config["databases"]["default"]).parent
    return {path.name: path.stat().st_uid for path in data.iterdir()}


def entries(config):
    connection = sqlite3.connect(config["databases"]["default"])
    try:
        return [row[0] for row in connection.execute("SELECT text FROM entry ORDER BY rowid")]
    finally:
        connection.close()


def test_sqlite_backup_is_a_checked_compressed_copy_and_restores(sqlite_app, clock, capsys):
    backup.run(sqlite_app, "")
    (name,) = backup.backups(sqlite_app["directory"])
    packed = Path(sqlite_app["directory"], name, "default.sqlite3.gz")
    assert gzip.decompress(packed.read_bytes()).startswith(b"SQLite format 3\0")
    backup.list_backups(sqlite_app)
    assert capsys.readouterr().out.splitlines()[-1].endswith("\tdefault")

    # Written after the backup, held open by "the app" while the restore runs: gone after it.
    app = sqlite3.connect(sqlite_app["databases"]["default"])
    app.execute("INSERT INTO entry VALUES ('later')")
    app.commit()
    backup.run(sqlite_app, "")
    backup.restore(sqlite_app, "default", name)
    assert [row[0] for row in app.execute("SELECT text FROM entry")] == ["first"]
    # The live file is still WAL, and root made no file the app could not open.
    assert app.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert set(owners(sqlite_app).values()) == {APP_UID}, owners(sqlite_app)
    app.close()
    # What was replaced was kept first, and is restorable in turn.
    newest = backup.backups(sqlite_app["directory"])[0]
    assert newest.endswith("-pre-restore")
    backup.restore(sqlite_app, "default", newest)
    assert entries(sqlite_app) == ["first", "later"]


def test_a_deleted_sqlite_file_comes_back_owned_as_its_directory(sqlite_app):
    backup.run(sqlite_app, "")
    database = Path(sqlite_app["databases"]["default"])
    database.unlink()
    backup.restore(sqlite_app, "default", "")
    assert entries(sqlite_app) == ["first"]
    assert (database.stat().st_uid, database.stat().st_gid) == (APP_UID, APP_UID)


def test_a_damaged_sqlite_backup_is_refused_and_the_data_stays(sqlite_app, capsys):
    backup.run(sqlite_app, "")
    (name,) = backup.backups(sqlite_app["directory"])
    Path(sqlite_app["directory"], name, "default.sqlite3.gz").write_bytes(gzip.compress(b"not a database" * 100))
    with sqlite3.connect(sqlite_app["databases"]["default"]) as connection:
        connection.execute("INSERT INTO entry VALUES ('kept')")
    connection.close()
    with pytest.raises(SystemExit):
        backup.restore(sqlite_app, "default", name)
    assert "default is as it was" in capsys.readouterr().err
    assert entries(sqlite_app) == ["first", "kept"]
    assert not [entry for entry in os.listdir(sqlite_app["directory"]) if entry.startswith(".partial")]


def test_no_sqlite_file_yet_makes_no_backup(sqlite_app, capsys):
    Path(sqlite_app["databases"]["default"]).unlink()
    backup.run(sqlite_app, "pre-migrate")
    assert "nothing to back up yet" in capsys.readouterr().out
    assert backup.backups(sqlite_app["directory"]) == []


def test_sqlite_backups_rotate_to_keep(sqlite_app, clock):
    for _ in range(3):
        backup.run(sqlite_app, "")
    assert backup.backups(sqlite_app["directory"]) == ["20261130T020000Z", "20261130T010000Z"]
