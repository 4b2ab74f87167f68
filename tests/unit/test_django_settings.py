"""Render the django_app role's production settings and let Django judge them.

No container: the template is rendered with ansible's Templar from the role's
own defaults, written next to a copy of the example project, and
`manage.py check --deploy --fail-level WARNING` runs with it on this machine's
Django (5.2 LTS + django-csp, as on Debian 12; the Django 6 path runs in the
molecule scenario on Debian 13). Plain `check --deploy` exits 0 even with
warnings, hence --fail-level.

Bad input is refused before the template renders: by the role's argument
spec (types and choices, checked at role start) and by tasks/validate.yml's
asserts (the shared validators, plugins/filter/validators.py). refusals()
runs both, in process, as the role would.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader import AnsibleCollectionConfig

ROOT = Path(__file__).resolve().parents[2]
# hardening.stack's filters by FQCN, from collections/ (as ansible.cfg's
# collections_path). At import, before any template renders: the collection
# loader must be in place before the first `ansible_collections` import.
if not AnsibleCollectionConfig.collection_finder:
    init_plugin_loader([str(ROOT / "collections")])
ROLE = ROOT / "roles" / "django_app"
EXAMPLE = ROOT / "examples" / "exampleapp"
STRONG_KEY = "k7Qm2xV9pL4sT8wZ1nB6cR3yH5jD0fG2aE7uK9oP4iM1qW8eR6tY3"


def role_vars(tmp: Path, **overrides) -> dict:
    """The role's defaults and vars with every templated default resolved, paths under tmp."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    values.update(
        ansible_managed="Ansible managed",
        role_path=str(ROLE),
        django_app_domains=["example.com"],
        django_app_base_dir=str(tmp / "srv"),
        django_app_data_dir=str(tmp / "data"),
        django_app_log_dir=str(tmp / "log"),
        django_app_source_path=str(EXAMPLE),
        # What tasks/project.yml reads from the example's manage.py.
        django_app_found_settings="exampleapp.settings",
    )
    values.update(overrides)
    # Evaluated inside a task only (it needs the task's django_app_file and the host's state).
    values.pop("django_app_file_in_place", None)
    for _ in range(3):  # defaults that refer to other defaults
        templar = Templar(loader=DataLoader(), variables=values)
        values = {key: resolve(templar, value) for key, value in values.items()}
    return values


def resolve(templar, value):
    """A string, or a list of strings (django_app_sandbox), templated; anything else as it is."""
    if isinstance(value, str):
        return templar.template(trust_as_template(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [templar.template(trust_as_template(item)) for item in value]
    return value


def render(values: dict) -> str:
    templar = Templar(loader=DataLoader(), variables=values)
    return templar.template(trust_as_template((ROLE / "templates" / "production_settings.py.j2").read_text()))


@pytest.fixture
def project(tmp_path):
    """A throw-away copy of the example project with its data and log directories."""
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    for name in ("data", "log", "srv"):
        (tmp_path / name).mkdir()
    # As tasks/build.yml writes it into each release.
    shutil.copy(ROLE / "files" / "csp_reports.py", target / "production_csp.py")
    return target


def environment(key: str, **env) -> dict:
    """This process's environment (without DATABASE_URL) plus what the service gets."""
    values = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    values.update(DJANGO_SETTINGS_MODULE="production_settings", DJANGO_SECRET_KEY=key, PYTHONDONTWRITEBYTECODE="1",
                  **env)
    return values


def manage(project: Path, settings: str, *args: str, key: str = STRONG_KEY, **env) -> subprocess.CompletedProcess:
    (project / "production_settings.py").write_text(settings)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=project, capture_output=True, text=True,
                          env=environment(key, **env), timeout=120, check=False)


def gate(project: Path, settings: str, **env) -> subprocess.CompletedProcess:
    """The role's deploy gate."""
    return manage(project, settings, "check", "--deploy", "--fail-level", "WARNING", **env)


SETTINGS_DUMP = ("import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name, None) "
                 "for name in %r}, default=str))")


def python(project: Path, settings: str, code: str, key: str = STRONG_KEY, **env) -> subprocess.CompletedProcess:
    """Run code with the rendered settings configured but Django not set up (no app or database loaded)."""
    (project / "production_settings.py").write_text(settings)
    return subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True,
                          env=environment(key, **env), timeout=60, check=False)


def effective(project: Path, settings: str, *names: str, **env) -> dict:
    result = python(project, settings, SETTINGS_DUMP % (names,), **env)
    assert result.returncode == 0, result.stderr
    return last_json(result.stdout)


def last_json(output: str):
    """The JSON line a script printed (`manage.py shell` may print a notice first)."""
    return json.loads(output.strip().splitlines()[-1])


GOOD = {
    "defaults": {},
    "hsts fully on, two years": {"django_app_hsts_seconds": 63072000, "django_app_hsts_preload": True},
    "no subdomains in HSTS": {"django_app_hsts_include_subdomains": False},
    "HSTS off": {"django_app_hsts_seconds": 0},
    "HSTS as a string from the inventory": {"django_app_hsts_seconds": "7200"},
    "several domains and a wildcard": {"django_app_domains": ["example.com", "www.example.com", ".example.org"]},
    "strict cookies, no prefix, custom admin, no CSP": {
        "django_app_cookie_samesite": "Strict", "django_app_cookie_host_prefix": False,
        "django_app_admin_url": "staff/console/", "django_app_csp": {}},
    "redirect exemptions and extra settings": {
        "django_app_ssl_redirect_exempt": ["^health/$"], "django_app_extra_settings": "SESSION_COOKIE_AGE = 3600"},
}


@pytest.mark.parametrize("case", GOOD)
def test_rendered_settings_pass_the_deploy_gate(tmp_path, project, case):
    settings = render(role_vars(tmp_path, **GOOD[case]))
    result = gate(project, settings)
    assert result.returncode == 0, f"{case}:\n{result.stdout}{result.stderr}\n{settings}"
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("overrides,silenced", [
    ({}, ["security.W021"]),
    ({"django_app_hsts_preload": True}, []),
    ({"django_app_hsts_include_subdomains": False}, ["security.W005", "security.W021"]),
    ({"django_app_hsts_seconds": 0}, ["security.W004"]),
])
def test_exactly_the_opted_out_checks_are_silenced(tmp_path, project, overrides, silenced):
    settings = render(role_vars(tmp_path, **overrides))
    assert effective(project, settings, "SILENCED_SYSTEM_CHECKS")["SILENCED_SYSTEM_CHECKS"] == silenced
    for check in silenced:  # each with a comment naming the variable that opts out
        line = next(line for line in settings.splitlines() if f'"{check}"' in line)
        assert "# django_app_hsts_" in line


def test_the_gate_fails_on_a_warning_that_plain_check_deploy_lets_through(tmp_path, project):
    """Un-silencing W021 makes the same settings fail the gate; plain check --deploy still exits 0."""
    settings = render(role_vars(tmp_path)).replace('"security.W021",', "")
    plain = manage(project, settings, "check", "--deploy")
    assert plain.returncode == 0 and "security.W021" in plain.stderr + plain.stdout
    result = gate(project, settings)
    assert result.returncode != 0 and "security.W021" in result.stderr + result.stdout


@pytest.mark.parametrize("extra, named", [
    ("SESSION_COOKIE_SECURE = False", "SESSION_COOKIE_SECURE"),
    # Silencing the check that would catch it does not help.
    ('DEBUG = True\nSILENCED_SYSTEM_CHECKS = ["security.W018"]', "DEBUG, SILENCED_SYSTEM_CHECKS"),
    ('MIDDLEWARE = [m for m in MIDDLEWARE if "Security" not in m]', "MIDDLEWARE (SecurityMiddleware removed)"),
    ("ALLOWED_HOSTS.append('*')", "ALLOWED_HOSTS"),
    ("AXES_ENABLED = False", "AXES_ENABLED"),
    ('MIDDLEWARE.remove("axes.middleware.AxesMiddleware")', "MIDDLEWARE (AxesMiddleware removed)"),
])
def test_extra_settings_cannot_change_what_the_role_enforces(tmp_path, project, extra, named):
    result = gate(project, render(role_vars(tmp_path, django_app_extra_settings=extra)))
    assert result.returncode != 0
    assert f"django_app_extra_settings changes what the role enforces: {named}" in result.stderr + result.stdout


def test_extra_settings_may_add_settings(tmp_path, project):
    settings = render(role_vars(tmp_path, django_app_extra_settings='EMAIL_SUBJECT_PREFIX = "[site] "'))
    assert gate(project, settings).returncode == 0
    assert effective(project, settings, "EMAIL_SUBJECT_PREFIX")["EMAIL_SUBJECT_PREFIX"] == "[site] "


def test_the_project_silencing_checks_hides_nothing(tmp_path, project):
    """The project's own SILENCED_SYSTEM_CHECKS is replaced, not kept."""
    own = project / "exampleapp" / "settings.py"
    own.write_text(own.read_text() + '\nSILENCED_SYSTEM_CHECKS = ["security.W012"]\nSESSION_COOKIE_SECURE = False\n')
    settings = render(role_vars(tmp_path))
    assert effective(project, settings, "SILENCED_SYSTEM_CHECKS")["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert gate(project, settings).returncode == 0  # the role set SESSION_COOKIE_SECURE back


CLIENT_IP = ("import json; from django.conf import settings as s; from types import SimpleNamespace as R; "
             "print(json.dumps([s.AXES_CLIENT_IP_CALLABLE(R(META=meta)) for meta in %r]))")


def test_lockout_counts_the_address_nginx_saw_and_only_from_nginx(tmp_path, project):
    """nginx overwrites X-Forwarded-For; anyone else's copy of it is ignored."""
    settings = render(role_vars(tmp_path, django_app_forwarded_allow_ips=["10.0.0.5"]))
    metas = [
        {"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},  # nginx on the unix socket
        {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.8"},  # the web host over TCP
        {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # not a web host: forged
        {"REMOTE_ADDR": "10.0.0.5"},  # no header: the peer itself
    ]
    result = python(project, settings, CLIENT_IP % (metas,))
    assert result.returncode == 0, result.stderr
    assert last_json(result.stdout) == ["203.0.113.7", "203.0.113.8", "10.0.0.9", "10.0.0.5"]
    names = ("INSTALLED_APPS", "AUTHENTICATION_BACKENDS", "MIDDLEWARE", "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME")
    values = effective(project, settings, *names)
    assert "axes" in values["INSTALLED_APPS"] and values["MIDDLEWARE"][-1] == "axes.middleware.AxesMiddleware"
    assert values["AUTHENTICATION_BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"
    assert values["AXES_FAILURE_LIMIT"] == 5 and values["AXES_COOLOFF_TIME"] == "0:15:00"


def test_lockout_can_be_switched_off(tmp_path, project):
    settings = render(role_vars(tmp_path, django_app_login_lockout=False))
    assert gate(project, settings).returncode == 0
    values = effective(project, settings, "INSTALLED_APPS", "MIDDLEWARE", "AXES_ENABLED")
    assert "axes" not in values["INSTALLED_APPS"] and not any("axes" in m for m in values["MIDDLEWARE"])
    assert values["AXES_ENABLED"] is None


def test_the_role_installs_the_pin_the_unit_tests_use():
    """The releases the role adds to a project (django-axes, django-csp, gunicorn) are the ones
    these tests and the benchmark run."""
    pins = dict(line.split("#")[0].strip().split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line.split("#")[0])
    role = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["django_app_serving_requirements"]
    for package in ("django-axes", "django-csp", "gunicorn"):
        assert f"{package}=={pins[package]}" in role


@pytest.mark.parametrize("key", ["", "short-key", "django-insecure-" + STRONG_KEY, "ab" * 40])
def test_a_weak_secret_key_is_refused_at_runtime(tmp_path, project, key):
    result = manage(project, render(role_vars(tmp_path)), "check", "--deploy", key=key)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is missing or weak" in result.stderr


def test_effective_security_settings(tmp_path, project):
    values = role_vars(tmp_path, django_app_domains=["example.com", ".example.org"], django_app_hsts_seconds=7200)
    got = effective(project, render(values), "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
                    "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
                    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE",
                    "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_SAMESITE", "X_FRAME_OPTIONS",
                    "SECURE_REFERRER_POLICY", "SECURE_CROSS_ORIGIN_OPENER_POLICY", "MIDDLEWARE",
                    "CONTENT_SECURITY_POLICY", "AUTH_PASSWORD_VALIDATORS", "STATIC_ROOT", "MEDIA_ROOT",
                    "DATABASES", "ADMIN_URL", "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME")
    assert got["DEBUG"] is False
    assert got["ALLOWED_HOSTS"] == ["example.com", ".example.org"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://example.com", "https://*.example.org"]
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["SECURE_SSL_REDIRECT"] is True
    assert (got["SECURE_HSTS_SECONDS"], got["SECURE_HSTS_INCLUDE_SUBDOMAINS"], got["SECURE_HSTS_PRELOAD"]) == \
        (7200, True, False)
    assert got["SESSION_COOKIE_SECURE"] and got["SESSION_COOKIE_HTTPONLY"] and got["CSRF_COOKIE_SECURE"]
    assert got["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert (got["SESSION_COOKIE_NAME"], got["CSRF_COOKIE_NAME"]) == ("__Host-sessionid", "__Host-csrftoken")
    assert got["X_FRAME_OPTIONS"] == "DENY"
    assert got["SECURE_REFERRER_POLICY"] == got["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    middleware = got["MIDDLEWARE"]
    assert middleware.index("csp.middleware.CSPMiddleware") == \
        middleware.index("django.middleware.security.SecurityMiddleware") + 1
    assert got["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["frame-ancestors"] == ["'none'"]
    assert {"min_length": 12} in [v.get("OPTIONS") for v in got["AUTH_PASSWORD_VALIDATORS"]]
    assert got["STATIC_ROOT"] == str(tmp_path / "srv" / "static")
    assert got["MEDIA_ROOT"] == str(tmp_path / "srv" / "media")
    assert got["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert got["DATABASES"]["default"]["NAME"] == str(tmp_path / "data" / "db.sqlite3")
    assert got["ADMIN_URL"] == "admin/"


def test_database_url_becomes_a_postgresql_setting(tmp_path, project):
    got = effective(project, render(role_vars(tmp_path)), "DATABASES",
                    DATABASE_URL="postgres://app%40x:p%2Fss@db.internal:6432/app_db?sslmode=require")
    default = got["DATABASES"]["default"]
    assert (default["ENGINE"], default["NAME"], default["USER"], default["PASSWORD"], default["HOST"],
            default["PORT"], default["OPTIONS"]) == (
        "django.db.backends.postgresql", "app_db", "app@x", "p/ss", "db.internal", "6432", {"sslmode": "require"})


def test_a_database_url_of_another_kind_is_refused(tmp_path, project):
    result = python(project, render(role_vars(tmp_path)), SETTINGS_DUMP % (("DATABASES",),),
                    DATABASE_URL="mysql://u:p@h/db")
    assert result.returncode != 0 and "django_app_database_url" in result.stderr


REQUEST_SCRIPT = """
import json
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
client = Client()
out = {}
for name, headers in (("https", {"HTTP_X_FORWARDED_PROTO": "https"}), ("http", {})):
    response = client.get("/health/", HTTP_HOST="example.com", **headers)
    out[name] = {"status": response.status_code, "headers": dict(response.headers),
                 "body": response.content.decode()}
login = client.get("/accounts/login/", HTTP_HOST="example.com", HTTP_X_FORWARDED_PROTO="https")
out["login_cookies"] = {name: dict(morsel) for name, morsel in login.cookies.items()}
out["evil_host"] = client.get("/health/", HTTP_HOST="evil.test", HTTP_X_FORWARDED_PROTO="https").status_code
print(json.dumps(out))
"""


def test_requests_through_the_rendered_settings(tmp_path, project):
    """Django's test client (no server): secure only behind X-Forwarded-Proto, headers and cookies."""
    result = manage(project, render(role_vars(tmp_path)), "shell", "-c", REQUEST_SCRIPT)
    assert result.returncode == 0, result.stderr
    out = last_json(result.stdout)
    assert out["https"]["status"] == 200 and json.loads(out["https"]["body"]) == {"status": "ok"}
    headers = out["https"]["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert out["http"]["status"] == 301 and out["http"]["headers"]["Location"] == "https://example.com/health/"
    csrf = out["login_cookies"]["__Host-csrftoken"]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"
    assert out["evil_host"] == 400


CSP_SCRIPT = """
import json
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
client = Client(enforce_csrf_checks=True)
https = {"HTTP_HOST": "example.com", "HTTP_X_FORWARDED_PROTO": "https"}
page = client.get("/health/", **https)
report = {"csp-report": {"document-uri": "https://example.com/?q=1", "effective-directive": "script-src-elem",
                         "blocked-uri": "inline", "line-number": 3, "disposition": "report"}}
out = {
    "headers": dict(page.headers),
    "report": client.post("/_csp-report/", json.dumps(report), content_type="application/csp-report",
                          **https).status_code,
    "get": client.get("/_csp-report/", **https).status_code,
    "garbage": client.post("/_csp-report/", "no", content_type="application/csp-report", **https).status_code,
    "too_big": client.post("/_csp-report/", "x" * 70000, content_type="application/csp-report",
                           **https).status_code,
}
print(json.dumps(out))
"""


@pytest.mark.parametrize("mode", ["enforce", "report-only"])
def test_csp_modes_and_the_report_receiver(tmp_path, project, mode):
    """Both modes name the receiver; report-only sends only the Report-Only header. The receiver
    takes a browser's report without a CSRF token, logs one JSON line, refuses anything else."""
    result = manage(project, render(role_vars(tmp_path, django_app_csp_mode=mode)), "shell", "-c", CSP_SCRIPT)
    assert result.returncode == 0, result.stderr
    out = last_json(result.stdout)
    enforced = out["headers"].get("Content-Security-Policy")
    reported = out["headers"].get("Content-Security-Policy-Report-Only")
    policy = enforced if mode == "enforce" else reported
    assert (enforced is None) == (mode == "report-only") and (reported is None) == (mode == "enforce"), out
    assert "script-src 'self'" in policy and "report-uri /_csp-report/" in policy
    assert (out["report"], out["get"], out["garbage"], out["too_big"]) == (204, 405, 400, 413)
    logged = (tmp_path / "log" / "csp-reports.log").read_text().splitlines()
    assert len(logged) == 1 and json.loads(logged[0].split(" ", 2)[2]) == {
        "blocked": "inline", "directive": "script-src-elem", "disposition": "report", "document": "/",
        "line": 3, "source": ""}


BAD = [
    ("DEBUG true", {"django_app_debug": True}, "django_app_debug must be false"),
    ("DEBUG yes", {"django_app_debug": "yes"}, "django_app_debug must be false"),
    ("no domains", {"django_app_domains": []}, "django_app_domains"),
    ("domains as a string", {"django_app_domains": "example.com"}, "django_app_domains"),
    ("wildcard host", {"django_app_domains": ["*"]}, "django_app_domains"),
    ("URL instead of a name", {"django_app_domains": ["https://example.com"]}, "django_app_domains"),
    ("HSTS not a number", {"django_app_hsts_seconds": "two years"}, "django_app_hsts_seconds"),
    ("HSTS negative", {"django_app_hsts_seconds": -1}, "django_app_hsts_seconds"),
    ("HSTS a float", {"django_app_hsts_seconds": 3600.5}, "django_app_hsts_seconds"),
    ("HSTS a boolean", {"django_app_hsts_seconds": True}, "django_app_hsts_seconds"),
    ("preload as a string", {"django_app_hsts_preload": "yes"}, "django_app_hsts_preload"),
    ("SameSite None", {"django_app_cookie_samesite": "None"}, "django_app_cookie_samesite"),
    ("absolute admin URL", {"django_app_admin_url": "/admin/"}, "django_app_admin_url"),
    ("admin URL without slash", {"django_app_admin_url": "admin"}, "django_app_admin_url"),
    ("short passwords", {"django_app_password_min_length": 8}, "django_app_password_min_length"),
    ("CSP as a string", {"django_app_csp": "default-src 'self'"}, "django_app_csp"),
    ("CSP sources as a string", {"django_app_csp": {"default-src": "'self'"}}, "django_app_csp"),
    ("settings module with code", {"django_app_project_settings": "x; import os"}, "django_app_project_settings"),
    ("weak SECRET_KEY", {"django_app_secret_key": "django-insecure-" + "x1" * 30}, "django_app_secret_key is weak"),
    ("SECRET_KEY with a quote", {"django_app_secret_key": STRONG_KEY + "'"}, "django_app_secret_key is weak"),
    ("no socket and no TCP", {"django_app_socket": "", "django_app_tcp_bind": ""}, "django_app_socket"),
    ("TCP port out of range", {"django_app_tcp_bind": "10.0.0.5:65536"}, "django_app_tcp_bind"),
    ("trust everyone's X-Forwarded-*", {"django_app_forwarded_allow_ips": ["*"]}, "django_app_forwarded_allow_ips"),
    ("path with ..", {"django_app_static_root": "/srv/app/../etc"}, "django_app_static_root"),
    ("both sources", {"django_app_source_git": "https://git.example.com/app.git"}, "django_app_source_git"),
    ("MySQL database", {"django_app_database_url": "mysql://u:p@h/db"}, "django_app_database_url"),
]

VALIDATE = ROLE / "tasks" / "validate.yml"
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def refusals(values: dict) -> list:
    """What stops the role before any change, as the role runs it: the argument spec's errors
    (checked at role start), then the fail_msg of every failing assert in tasks/validate.yml."""
    given = {name: values[name] for name in SPEC if name in values}
    errors = list(ArgumentSpecValidator(SPEC).validate(given).error_messages)
    for task in yaml.safe_load(VALIDATE.read_text()):
        if "ansible.builtin.assert" not in task:
            continue
        task_vars = {name: trust_as_template(value) for name, value in task.get("vars", {}).items()}
        templar = Templar(loader=DataLoader(), variables={**values, **task_vars})
        if "when" in task and not templar.evaluate_conditional(trust_as_template(task["when"])):
            continue
        args = task["ansible.builtin.assert"]
        that = args["that"] if isinstance(args["that"], list) else [args["that"]]
        if not all(templar.evaluate_conditional(trust_as_template(condition)) for condition in that):
            errors.append(templar.template(trust_as_template(args["fail_msg"])))
    return errors


@pytest.mark.parametrize("case", GOOD)
def test_good_values_pass_the_argument_spec_and_validate_yml(tmp_path, case):
    assert refusals(role_vars(tmp_path, **GOOD[case])) == []


@pytest.mark.parametrize("overrides,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_are_refused_before_rendering(tmp_path, overrides, needle):
    errors = refusals(role_vars(tmp_path, **overrides))
    assert errors and any(needle in error for error in errors), errors


def test_each_check_is_in_validate_yml_not_in_the_template():
    """The template renders checked input; DEBUG = False is hard-coded, not a variable."""
    template = (ROLE / "templates" / "production_settings.py.j2").read_text()
    assert "undef(" not in template and "raise_error" not in template
    assert "\nDEBUG = False\n" in template
    assert "{{ django_app_debug" not in template and "{% if django_app_debug" not in template
    assert VALIDATE.read_text().count("django_app_debug |") == 1
