"""Each role's variables are documented once, in meta/argument_specs.yml.

The rule for defaults: defaults/main.yml holds every value. An option that is
not `required: true` must be in defaults/main.yml, and its argument spec must
carry `default:` with exactly the same YAML value (ansible-core uses a spec
default too, and ansible-doc shows it). A `required: true` option has no spec
`default:` (ansible-core refuses both together); defaults/main.yml may hold a
placeholder for it. README.md's generated section must be what
bin/role_docs.py writes, and every option (sub-options included) needs a
description.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bin"))

import role_docs  # noqa: E402

ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def role_dir(role: str) -> Path:
    return ROOT / "roles" / role


def same(a, b) -> bool:
    """YAML values equal, types included (so 1 != true and 3072 != "3072")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def all_options(options: dict, prefix: str = ""):
    """(dotted name, spec) for every option and sub-option."""
    for name, spec in (options or {}).items():
        spec = spec or {}
        path = f"{prefix}{name}"
        yield path, spec
        each = "[]" if spec.get("type") == "list" else ""
        yield from all_options(spec.get("options"), f"{path}{each}.")


def test_every_role_is_covered():
    assert set(ROLES) == {p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir()}
    assert ROLES


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_spec_name_the_same_variables(role):
    options = role_docs.load_options(role_dir(role))
    defaults = role_docs.load_defaults(role_dir(role))
    undocumented = sorted(set(defaults) - set(options))
    assert not undocumented, f"{role}: in defaults/main.yml but not in meta/argument_specs.yml: {undocumented}"
    without_value = sorted(name for name, spec in options.items()
                           if name not in defaults and not (spec or {}).get("required"))
    assert not without_value, (f"{role}: optional in meta/argument_specs.yml but no value in defaults/main.yml "
                               f"(add it there, or mark the option required: true): {without_value}")


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_equal_defaults_file(role):
    options = role_docs.load_options(role_dir(role))
    defaults = role_docs.load_defaults(role_dir(role))
    problems = []
    for name, spec in options.items():
        spec = spec or {}
        if spec.get("required"):
            if "default" in spec:
                problems.append(f"{name}: required: true with a default: (ansible-core refuses that)")
        elif name in defaults:
            if "default" not in spec:
                problems.append(f"{name}: no default: in the spec (must be {defaults[name]!r})")
            elif not same(spec["default"], defaults[name]):
                problems.append(f"{name}: spec default {spec['default']!r} != defaults/main.yml {defaults[name]!r}")
    assert not problems, f"{role}: " + "; ".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_description(role):
    options = role_docs.load_options(role_dir(role))
    missing = []
    for path, spec in all_options(options):
        desc = spec.get("description")
        paragraphs = desc if isinstance(desc, list) else [desc]
        if not paragraphs or not all(isinstance(p, str) and p.strip() for p in paragraphs):
            missing.append(path)
    assert not missing, f"{role}: options without a description: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_readme_section_is_generated(role):
    readme = (role_dir(role) / "README.md").read_text(encoding="utf-8")
    assert readme.count(role_docs.BEGIN) == 1 and readme.count(role_docs.END) == 1, \
        f"{role}/README.md: needs exactly one pair of generated-section markers"
    wanted = role_docs.updated_readme(readme, role_docs.render_role(role_dir(role)))
    assert wanted == readme, f"roles/{role}/README.md is out of date: run bin/role_docs.py"


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_option(role):
    readme = (role_dir(role) / "README.md").read_text(encoding="utf-8")
    for path, _ in all_options(role_docs.load_options(role_dir(role))):
        assert f"`{path}`" in readme


def test_check_mode_reports_a_stale_readme_and_writing_fixes_it(tmp_path):
    roles = tmp_path / "roles"
    shutil.copytree(role_dir("ufw"), roles / "ufw", ignore=shutil.ignore_patterns("tasks", "templates", "files"))
    script = [sys.executable, str(ROOT / "bin" / "role_docs.py"), "--roles-dir", str(roles)]

    def run(*args):
        return subprocess.run(script + list(args), capture_output=True, text=True, check=False)

    assert run().returncode == 0  # the copy starts out current, whatever the real README holds
    assert run("--check").returncode == 0
    spec_path = roles / "ufw" / "meta" / "argument_specs.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["argument_specs"]["main"]["options"]["ufw_prune"]["description"] = "Changed text."
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = run("--check")
    assert result.returncode == 1
    assert "roles/ufw/README.md" in result.stderr and "+Changed text." in result.stderr
    assert run().returncode == 0
    assert run("--check").returncode == 0
    assert "\nChanged text.\n" in (roles / "ufw" / "README.md").read_text()


def test_renders_types_defaults_choices_and_sub_options(tmp_path):
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "defaults" / "main.yml").write_text(
        "---\ndemo_mode: fast  # why: measured\ndemo_map:\n  a: [1, 2]\n  b: x\ndemo_items: []\n")
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {"main": {"options": {
        "demo_mode": {"type": "str", "default": "fast", "choices": ["fast", "off"],
                      "description": ["First paragraph.", "Second paragraph."]},
        "demo_map": {"type": "dict", "default": {"a": [1, 2], "b": "x"}, "description": "A map."},
        "demo_items": {"type": "list", "elements": "dict", "default": [], "description": "Items.",
                       "options": {"key": {"type": "str", "required": True, "description": "The key."}}},
        "demo_needed": {"type": "int", "required": True, "no_log": True, "description": "Needed."},
    }}}}))
    text = role_docs.render_role(role)
    assert "### `demo_mode`\n\n- Type: `str`\n- Default: `fast`\n- Choices: `fast`, `'off'`\n\n" \
           "First paragraph.\n\nSecond paragraph.\n" in text
    assert "```yaml\n  demo_map:\n    a: [1, 2]\n    b: x\n  ```" in text
    assert "- Type: `list` of `dict`" in text
    assert "#### `demo_items[].key`\n\n- Type: `str`\n- Required: yes\n" in text
    assert "### `demo_needed`\n\n- Type: `int`\n- Required: yes\n- Secret: yes" in text
    readme = "# demo\n\nIntro.\n"
    assert role_docs.updated_readme(readme, text).startswith("# demo\n\nIntro.\n\n## Role Variables\n\n")
