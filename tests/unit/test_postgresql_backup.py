"""roles/postgresql/files/postgresql-backup: which directories are backups, their order,
the rotation, and what the command refuses before touching a database (the dumps and the
restore themselves run against a real server in the postgresql scenario)."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LOADER = importlib.machinery.SourceFileLoader(
    "postgresql_backup", str(ROOT / "roles" / "postgresql" / "files" / "postgresql-backup"))
_SPEC = importlib.util.spec_from_loader("postgresql_backup", _LOADER)
backup = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(backup)

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
    backup.list_backups({"directory": str(directory)})
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
        backup.restore({"directory": str(directory), "databases": {"app": "app"}}, database, name)
    assert message in capsys.readouterr().err


def test_a_bad_label_is_refused_before_anything_is_made(directory, capsys):
    with pytest.raises(SystemExit):
        backup.run({"directory": str(directory), "databases": {"app": "app"}, "keep": 3, "hook": ""}, "Bad Label")
    assert "--label" in capsys.readouterr().err
    assert backup.backups(str(directory)) == sorted(NAMES, reverse=True)



def test_one_run_at_a_time_holds_the_lock(directory):
    with backup.locked(str(directory)):
        with pytest.raises(SystemExit):
            backup.locked(str(directory))
    # Released: the next run gets it.
    backup.locked(str(directory)).close()
