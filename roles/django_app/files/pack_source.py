#!/usr/bin/env python3
"""Pack a project directory on the controller into a release's source.

What ships is decided here once, for both the release's name and its
archive: the files git tracks when the directory is in a git work tree (so an
untracked .env or key never leaves the machine), otherwise every file; minus
the excluded patterns either way. A pattern without "/" matches any path
component (`*.pem`, `node_modules`); one with "/" matches the path relative to
the project, at any depth (`settings/local.py`).

    pack_source.py digest SRC [--exclude PATTERN]...       (prints 40 hex digits)
    pack_source.py pack SRC ARCHIVE [--exclude PATTERN]...  (a .tar.gz)
"""

import argparse
import fnmatch
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath


def excluded(relative: str, patterns: list[str]) -> bool:
    path = PurePosixPath(relative)
    for pattern in patterns:
        if "/" in pattern.strip("/"):
            pattern = pattern.strip("/")
            if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, "*/" + pattern):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern.strip("/")) for part in path.parts):
            return True
    return False


def in_git_work_tree(source: Path) -> bool:
    """Whether source is (in) a git work tree; an unreadable one stops the run rather than ship everything."""
    try:
        result = subprocess.run(["git", "-C", str(source), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, check=False)
    except FileNotFoundError:
        if (source / ".git").is_dir():
            raise SystemExit(f"{source} is a git work tree but git is not installed on the controller")
        return False
    if b"dubious ownership" in result.stderr:
        raise SystemExit(f"git refuses to read {source}: {result.stderr.decode().strip()}")
    return result.returncode == 0 and result.stdout.strip() == b"true"


def candidates(source: Path) -> list[str]:
    """Relative paths of the files that may ship: git's tracked files in a work tree, or all."""
    if in_git_work_tree(source):
        listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached"], capture_output=True,
                                check=True).stdout.decode()
        return [name for name in listed.split("\0") if name and (source / name).is_file()]
    found = []
    for directory, _, files in os.walk(source):
        for name in files:
            path = Path(directory, name)
            if path.is_file():
                found.append(path.relative_to(source).as_posix())
    return found


def shipped(source: Path, patterns: list[str]) -> list[str]:
    return sorted(name for name in candidates(source) if not excluded(name, patterns))


def digest(source: Path, patterns: list[str]) -> str:
    total = hashlib.sha256()
    for name in shipped(source, patterns):
        total.update(name.encode() + b"\0" + hashlib.sha256((source / name).read_bytes()).digest())
    return total.hexdigest()[:40]


def pack(source: Path, archive: Path, patterns: list[str]) -> int:
    names = shipped(source, patterns)
    # Directories are members too, so whoever unpacks the archive owns them as well as the files.
    directories = sorted({str(parent) for name in names for parent in PurePosixPath(name).parents
                          if str(parent) != "."})
    with tarfile.open(archive, "w:gz") as tar:
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name in names:
            data = (source / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if os.access(source / name, os.X_OK) else 0o644
            info.mtime = int((source / name).stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    return len(names)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["digest", "pack"])
    parser.add_argument("source", type=Path)
    parser.add_argument("archive", type=Path, nargs="?")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a directory")
    if args.action == "digest":
        print(digest(args.source, args.exclude))
    else:
        if args.archive is None:
            parser.error("pack needs an ARCHIVE")
        print(f"packed {pack(args.source, args.archive, args.exclude)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
