"""The rendered production settings read as clean Python.

Rendered with ansible's Templar from the role's defaults plus the required
values (test_django_settings.role_vars), then linted: pyflakes when the venv
has it, else py_compile plus `ast` checks (imports used, each setting
assigned once, DEBUG hard-coded False, no template left over).
"""

import ast
import importlib.util
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from test_django_settings import ROLE, render, role_vars

VARIANTS = {
    "defaults": {},
    "HSTS off, no __Host- prefix, no CSP": {"django_app_hsts_seconds": 0, "django_app_cookie_host_prefix": False,
                                            "django_app_csp": {}},
    "preload, subdomains off": {"django_app_hsts_preload": True, "django_app_hsts_include_subdomains": False},
    "extra settings": {"django_app_extra_settings": "SESSION_COOKIE_AGE = 3600"},
}
# What pyflakes says about the template by design: the project's settings are
# star-imported first, and django-csp is imported only to prove it installed.
EXPECTED_PYFLAKES = ("import *' used; unable to detect undefined names", "may be undefined, or defined from star",
                     ".*' imported but unused", "'csp' imported but unused")


def rendered(tmp_path: Path, overrides: dict) -> Path:
    path = tmp_path / "production_settings.py"
    path.write_text(render(role_vars(tmp_path, **overrides)))
    return path


@pytest.mark.parametrize("case", VARIANTS)
def test_rendered_settings_compile_and_lint(tmp_path, case):
    path = rendered(tmp_path, VARIANTS[case])
    py_compile.compile(str(path), doraise=True)
    if importlib.util.find_spec("pyflakes"):
        result = subprocess.run([sys.executable, "-m", "pyflakes", str(path)], capture_output=True, text=True,
                                check=False)
        problems = [line for line in result.stdout.splitlines() if not any(e in line for e in EXPECTED_PYFLAKES)]
        assert problems == [], result.stdout
    source = path.read_text()
    tree = ast.parse(source)
    assert "{{" not in source and "{%" not in source and "{#" not in source
    lines = source.splitlines()
    assert [n for n, line in enumerate(lines, 1) if line != line.rstrip()] == [], "trailing whitespace"
    assert "\n\n\n\n" not in source

    # Every imported name is used (pyflakes' F401), except the star import and the csp probe.
    imported = {alias.asname or alias.name.split(".")[0]
                for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names if alias.name != "*"} - {"csp"}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert imported - used == set()

    # Each setting is assigned once at the top level; DEBUG is the constant False.
    assigned = [target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)]
    settings = [name for name in assigned if name.isupper()]
    assert len(settings) == len(set(settings)), sorted(n for n in settings if settings.count(n) > 1)
    debug = [node.value for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == "DEBUG" for t in node.targets)]
    assert len(debug) == 1 and isinstance(debug[0], ast.Constant) and debug[0].value is False
    for name in ("ALLOWED_HOSTS", "SECRET_KEY", "SECURE_HSTS_SECONDS", "SILENCED_SYSTEM_CHECKS", "DATABASES"):
        assert name in settings


def test_each_setting_has_a_why_comment():
    """Every block of settings in the template is introduced or annotated by a comment."""
    template = (ROLE / "templates" / "production_settings.py.j2").read_text()
    blocks = [block for block in template.split("\n\n") if any(
        line[:1].isupper() and " = " in line for line in block.splitlines())]
    bare = [block for block in blocks if not any(line.lstrip().startswith("#") for line in block.splitlines())
            and "{% if" not in block]
    assert bare == [], bare
