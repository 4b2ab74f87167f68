#!/usr/bin/env python3
"""Generate each role's variable documentation from its argument spec.

roles/<role>/meta/argument_specs.yml (entry point `main`) is the one source of
every role variable's documentation; roles/<role>/defaults/main.yml holds the
values. This script writes the part of roles/<role>/README.md between

    <!-- BEGIN GENERATED VARIABLES (bin/role_docs.py) -->
    <!-- END GENERATED VARIABLES -->

from the two: for each option its name, type, whether it is required or its
default (as written in defaults/main.yml), its choices and its description,
sub-options included. Everything outside the markers is left as it is; a
README without the markers gets a "## Role Variables" section at its end.

Usage:
    bin/role_docs.py [ROLE ...]          rewrite the READMEs (all roles by default)
    bin/role_docs.py --check [ROLE ...]  exit 1, listing every README that is out
                                         of date, without writing anything
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES_DIR = ROOT / "roles"
ENTRY_POINT = "main"
BEGIN = "<!-- BEGIN GENERATED VARIABLES (bin/role_docs.py) -->"
END = "<!-- END GENERATED VARIABLES -->"
# A default whose value is longer than this (or spans lines) becomes a code block.
INLINE_MAX = 64


class RoleDocsError(Exception):
    """A role's files cannot be read into documentation."""


def load_options(role_dir: Path) -> dict:
    """The options of the role's `main` entry point (anchors and aliases resolved)."""
    path = role_dir / "meta" / "argument_specs.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        entry = data["argument_specs"][ENTRY_POINT]
    except (KeyError, TypeError) as exc:
        raise RoleDocsError(f"{path}: no argument_specs.{ENTRY_POINT} entry point") from exc
    return (entry or {}).get("options") or {}


def load_defaults(role_dir: Path) -> dict:
    """defaults/main.yml as loaded YAML values ({} when the file is missing or empty)."""
    path = role_dir / "defaults" / "main.yml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def defaults_as_written(role_dir: Path) -> dict[str, str]:
    """Each top-level variable of defaults/main.yml mapped to its source text.

    The text is `name: value` exactly as written (all lines of a block-style
    value, dedented, without comment lines), so the README shows what the file
    says, quotes and Jinja included.
    """
    path = role_dir / "defaults" / "main.yml"
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise RoleDocsError(f"{path}: not a mapping of variables")
    lines = text.splitlines()
    written = {}
    for key_node, value_node in root.value:
        first = key_node.start_mark.line
        end = value_node.end_mark
        # A block value ends at the start of the next line; a flow value or a
        # scalar ends on its own last line.
        last = end.line - 1 if end.column == 0 else end.line
        chunk = [line for line in lines[first:last + 1] if not line.lstrip().startswith("#")]
        # Drop a trailing comment on the value's own line.
        source = textwrap.dedent("\n".join(chunk)).rstrip()
        if first == last:
            source = lines[first][:end.column].rstrip()
        written[key_node.value] = source
    return written


def _code(text: str) -> str:
    """Inline Markdown code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" or text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _flow(value) -> str:
    """A loaded YAML value as one line of flow-style YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip().removesuffix("...").strip()


def _description(spec: dict) -> list[str]:
    desc = spec.get("description")
    if desc is None:
        return []
    paragraphs = desc if isinstance(desc, list) else [desc]
    return [str(p).strip() for p in paragraphs if str(p).strip()]


def _type(spec: dict) -> str:
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        return f"`list` of `{spec['elements']}`"
    return f"`{kind}`"


def _default_lines(name: str, spec: dict, written: str | None) -> list[str]:
    """The "Required"/"Default" bullet (and a code block for a long default)."""
    inline = None
    if written is not None and "\n" not in written:
        value = written.split(":", 1)[1].strip()
        if len(value) <= INLINE_MAX:
            inline = value
    if spec.get("required"):
        if written is None:
            return ["- Required: yes"]
        if inline is not None:
            return [f"- Required: yes (defaults/main.yml only holds the placeholder {_code(inline)})"]
        return ["- Required: yes (defaults/main.yml only holds a placeholder)"]
    if inline is not None:
        return [f"- Default: {_code(inline)}"]
    if written is not None:
        return ["- Default (as in defaults/main.yml):", "", "  ```yaml", *textwrap.indent(written, "  ").splitlines(),
                "  ```"]
    if "default" in spec:
        value = _flow(spec["default"])
        if len(value) <= INLINE_MAX:
            return [f"- Default: {_code(value)}"]
        dumped = yaml.safe_dump({name: spec["default"]}, default_flow_style=False, sort_keys=False).rstrip()
        return ["- Default:", "", "  ```yaml", *textwrap.indent(dumped, "  ").splitlines(), "  ```"]
    return ["- Default: none (the variable is unset)"]


def render_option(path: str, spec: dict, level: int, written: str | None = None) -> list[str]:
    """Markdown for one option and, below it, its sub-options."""
    spec = spec or {}
    out = [f"{'#' * level} `{path}`", "", f"- Type: {_type(spec)}"]
    out += _default_lines(path.rsplit(".", 1)[-1].removesuffix("[]"), spec, written)
    if spec.get("choices") is not None:
        out.append("- Choices: " + ", ".join(_code(_flow(c)) for c in spec["choices"]))
    if spec.get("aliases"):
        out.append("- Aliases: " + ", ".join(_code(str(a)) for a in spec["aliases"]))
    if spec.get("no_log"):
        out.append("- Secret: yes (`no_log`: never shown in Ansible's output)")
    out.append("")
    paragraphs = _description(spec)
    for paragraph in paragraphs or ["(no description)"]:
        out += [paragraph, ""]
    suboptions = spec.get("options") or {}
    if suboptions:
        each = "[]" if spec.get("type") == "list" else ""
        intro = "Each item is a dict with these keys:" if each else "Keys of the dict:"
        out += [intro, ""]
        for sub_name, sub_spec in suboptions.items():
            out += render_option(f"{path}{each}.{sub_name}", sub_spec, min(level + 1, 6))
    return out


def render_role(role_dir: Path) -> str:
    """The generated section (markers included) for one role."""
    options = load_options(role_dir)
    written = defaults_as_written(role_dir)
    out = [
        BEGIN,
        "<!-- Generated from meta/argument_specs.yml and defaults/main.yml: edit those, then run"
        " bin/role_docs.py. -->",
        "",
        "Every variable of the role, generated from `meta/argument_specs.yml` (the documentation) and"
        " `defaults/main.yml` (the values). The argument spec is checked before the role's tasks run.",
        "",
    ]
    for name, spec in options.items():
        out += render_option(name, spec, 3, written.get(name))
    while out[-1] == "":
        out.pop()
    out += ["", END]
    return "\n".join(out)


def updated_readme(readme: str, section: str) -> str:
    """The README text with its generated section replaced by `section`."""
    start = readme.find(BEGIN)
    stop = readme.find(END)
    if start == -1 and stop == -1:
        return readme.rstrip("\n") + "\n\n## Role Variables\n\n" + section + "\n"
    if start == -1 or stop == -1 or stop < start:
        raise RoleDocsError("README.md has one of the generated-section markers without the other")
    return readme[:start] + section + readme[stop + len(END):]


def role_dirs(roles_dir: Path, names: list[str]) -> list[Path]:
    if names:
        dirs = [roles_dir / name for name in names]
        missing = [str(d) for d in dirs if not (d / "meta" / "argument_specs.yml").exists()]
        if missing:
            raise RoleDocsError("no meta/argument_specs.yml in: " + ", ".join(missing))
        return dirs
    return sorted(p.parent.parent for p in roles_dir.glob("*/meta/argument_specs.yml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing the READMEs that are out of date")
    parser.add_argument("--roles-dir", type=Path, default=ROLES_DIR, help="default: %(default)s")
    parser.add_argument("roles", nargs="*", metavar="ROLE", help="role names (default: every role)")
    args = parser.parse_args(argv)

    stale = []
    try:
        for role_dir in role_dirs(args.roles_dir, args.roles):
            readme_path = role_dir / "README.md"
            current = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
            wanted = updated_readme(current, render_role(role_dir))
            if wanted == current:
                continue
            stale.append(readme_path)
            if args.check:
                diff = list(difflib.unified_diff(current.splitlines(), wanted.splitlines(),
                                                 f"{readme_path} (now)", f"{readme_path} (generated)",
                                                 lineterm="", n=1))
                print(f"{readme_path}: variables section out of date", file=sys.stderr)
                print("\n".join("    " + line for line in diff[:40]), file=sys.stderr)
                if len(diff) > 40:
                    print(f"    ... {len(diff) - 40} more diff lines", file=sys.stderr)
            else:
                readme_path.write_text(wanted, encoding="utf-8")
                print(f"wrote {readme_path}")
    except (RoleDocsError, OSError, yaml.YAMLError) as exc:
        print(f"role_docs: {exc}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(f"{len(stale)} README(s) out of date: run bin/role_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
