"""roles/django_app/files/pack_source.py: what a path source ships, and the digest that names the release."""

import importlib.util
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("pack_source", ROOT / "roles" / "django_app" / "files" / "pack_source.py")
pack_source = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(pack_source)

# The role's own list (vars/main.yml django_app_source_excludes_always), as it passes it.
import yaml  # noqa: E402

ALWAYS = yaml.safe_load((ROOT / "roles" / "django_app" / "vars" / "main.yml").read_text())[
    "django_app_source_excludes_always"]

SHIPS = ["manage.py", "proj/settings/base.py", "proj/settings/production.py", "app/templates/env.html",
         "static/app.css", "requirements.txt"]
NEVER = [".env", ".env.production", "proj/local_settings.py", "proj/settings/local.py", "certs/site.pem",
         "certs/site.key", "venv/bin/python", ".venv/pyvenv.cfg", "media/upload.jpg", "node_modules/x/index.js",
         "app/__pycache__/x.cpython-311.pyc", "db.sqlite3", ".git/config"]


def tree(root: Path, names: list[str]) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n")
    return root


def test_secrets_and_local_state_never_ship(tmp_path):
    source = tree(tmp_path / "p", SHIPS + NEVER)
    assert pack_source.shipped(source, ALWAYS) == sorted(SHIPS)


def test_extra_patterns_add_to_the_list(tmp_path):
    source = tree(tmp_path / "p", SHIPS + ["docs/notes.md"])
    assert "docs/notes.md" not in pack_source.shipped(source, ALWAYS + ["docs"])
    assert "static/app.css" not in pack_source.shipped(source, ALWAYS + ["static/*.css"])


def test_from_a_git_work_tree_only_tracked_files_ship(tmp_path):
    source = tree(tmp_path / "p", SHIPS + [".env", "notes-untracked.txt"])
    git = ["git", "-C", str(source), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-f"] + SHIPS + [".env"], check=True)  # a .env committed by mistake
    subprocess.run(git + ["commit", "-q", "-m", "x"], check=True)
    assert pack_source.shipped(source, ALWAYS) == sorted(SHIPS)


def test_the_digest_follows_what_ships_only(tmp_path):
    source = tree(tmp_path / "p", SHIPS + [".env"])
    before = pack_source.digest(source, ALWAYS)
    (source / ".env").write_text("SECRET=changed\n")
    assert pack_source.digest(source, ALWAYS) == before
    (source / "manage.py").write_text("changed\n")
    assert pack_source.digest(source, ALWAYS) != before
    assert len(before) == 40


def test_the_archive_holds_exactly_what_ships(tmp_path):
    source = tree(tmp_path / "p", SHIPS + NEVER)
    (source / "manage.py").chmod(0o755)
    archive = tmp_path / "a.tar.gz"
    assert pack_source.main(["pack", str(source), str(archive)] + [f"--exclude={p}" for p in ALWAYS]) == 0
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert sorted(name for name, member in members.items() if member.isfile()) == sorted(SHIPS)
    assert {name for name, member in members.items() if member.isdir()} == {
        "proj", "proj/settings", "app", "app/templates", "static"}
    assert members["manage.py"].mode == 0o755 and members["requirements.txt"].mode == 0o644


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        pack_source.main(["digest", str(tmp_path / "nowhere")])
