"""Check that the installed Ansible collections satisfy requirements.yml.

Galaxy is not reachable from the build machines, so collections come bundled
with the `ansible` PyPI package. This makes requirements.yml binding anyway:
exit 0 when every listed collection is installed in a version inside its
range, 1 (with one line per problem) otherwise.

Usage: check_collections.py [requirements.yml]
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def requirements(path: Path) -> dict[str, str]:
    """Map collection name to version range from a requirements.yml."""
    data = yaml.safe_load(path.read_text()) or {}
    wanted = {}
    for entry in data.get("collections", []):
        if isinstance(entry, str):
            wanted[entry] = "*"
        else:
            wanted[entry["name"]] = str(entry.get("version", "*"))
    return wanted


def installed() -> dict[str, str]:
    """Map collection name to the version ansible-galaxy would use first."""
    # Prefer the ansible-galaxy of the interpreter's own virtualenv.
    beside = Path(sys.executable).parent / "ansible-galaxy"
    galaxy = str(beside) if beside.exists() else "ansible-galaxy"
    out = subprocess.run(
        [galaxy, "collection", "list", "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    found: dict[str, str] = {}
    # Paths are listed in search order; the first hit is what Ansible loads.
    for collections in json.loads(out).values():
        for name, info in collections.items():
            found.setdefault(name, info.get("version", "*"))
    return found


def problems(wanted: dict[str, str], have: dict[str, str]) -> list[str]:
    """Describe every requirement that the installed set does not meet."""
    issues = []
    for name, spec in sorted(wanted.items()):
        if name not in have:
            issues.append(f"{name}: not installed (requirements.yml wants {spec})")
            continue
        if spec in ("*", ""):
            continue
        try:
            ok = Version(have[name]) in SpecifierSet(spec)
        except (InvalidSpecifier, InvalidVersion) as err:
            issues.append(f"{name}: cannot compare {have[name]!r} with {spec!r}: {err}")
            continue
        if not ok:
            issues.append(f"{name}: installed {have[name]} is outside {spec}")
    return issues


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "requirements.yml")
    found = problems(requirements(path), installed())
    for line in found:
        print(f"requirements.yml: {line}", file=sys.stderr)
    if not found:
        print(f"collections satisfy {path}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
