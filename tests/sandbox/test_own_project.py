"""A user's own Django project on the sandbox, as a new user deploys one.

Projects are generated at test time by `django-admin startproject` (this
environment's Django 5.2, as Debian 12 runs) with a requirements file that
names Django only: gunicorn, django-csp and django-axes come from the role.
1. `bin/sandbox up --project DIR` with the CSP in report-only: the modules are
   found in the project; an admin made by `createsuperuser --noinput` from
   DJANGO_SUPERUSER_* logs in over HTTPS through nginx; the CSP header is the
   Report-Only one; a violation report in the browsers' format is received
   and listed by NAME-csp-report.
2. The same project with its settings in a package
   (mysite/settings/production.py importing base), no module variables: it
   deploys, CSP enforced.
(A project whose settings import fails is one of molecule/django_app's
failed deploys.)
3. playbooks/rollback.yml back to the first project; then site.yml deploys the
   example again (its release is still there, so that builds nothing) and
   rollbacks go back along what was live: the first project (not the package
   project it was rolled back from, nor nothing, as the order of completion
   would have it), the example, then refused (nothing was live before the
   example) with nothing changed. Should a rollback fail, site.yml deploys
   the example again at the end.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sandboxlib import ROOT, container, playbook, recap, sandbox
from testlib import https_request, response_cookies

APP = "exampleapp"  # the inventory's app_name: the account, units and tools keep it
DOMAIN = "sandbox.test"
PORT = 8443
CA = str(ROOT / ".sandbox" / "pebble-root.pem")
ADMIN, ADMIN_PASSWORD = "siteadmin", "a long pass phrase, 31 characters"
ONLY_THE_APP = ["--tags", "app"]


def startproject(target: Path) -> Path:
    """`django-admin startproject mysite`, plus the only file a user adds: requirements.txt."""
    target.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(target)], check=True)
    (target / "requirements.txt").write_text("Django>=5.2,<5.3\n")
    return target


def settings_in_a_package(target: Path) -> Path:
    """The layout project templates generate: mysite/settings/{base,production}.py."""
    startproject(target)
    package = target / "mysite" / "settings"
    package.mkdir()
    base = (target / "mysite" / "settings.py").read_text()
    # base.py sits one directory deeper than settings.py did.
    (package / "base.py").write_text(base.replace("Path(__file__).resolve().parent.parent",
                                                  "Path(__file__).resolve().parent.parent.parent"))
    (target / "mysite" / "settings.py").unlink()
    (package / "__init__.py").write_text("")
    (package / "production.py").write_text('"""Production."""\nfrom .base import *  # noqa: F403\n')
    for name in ("manage.py", "mysite/wsgi.py"):
        path = target / name
        # startproject quotes with ' (or " once black, when installed, has formatted it).
        path.write_text(re.sub(r"""(['"])mysite\.settings\1""", r"\1mysite.settings.production\1", path.read_text()))
    return target


def live_release() -> str:
    return container(f"readlink /srv/{APP}/current").stdout.strip()


def get(path: str, cookies: str = ""):
    return https_request(PORT, DOMAIN, path, headers={"Cookie": cookies} if cookies else None, cafile=CA)


@pytest.fixture(scope="module")
def deploys(runs, tmp_path_factory):
    """The two deploys, in order, each leaving what the tests read; the example back at the end."""
    assert runs[1].returncode == 0, "the sandbox did not come up"
    example = live_release()
    root = tmp_path_factory.mktemp("projects")
    done = {"example": example}
    done["plain"] = sandbox("up", "--project", str(startproject(root / "plain")),
                            "-e", "app_csp_mode=report-only", *ONLY_THE_APP)
    done["plain_release"] = live_release()
    done["plain_page"] = get("/admin/login/")
    created = container(f'DJANGO_SUPERUSER_PASSWORD="$(cat)" {APP}-manage createsuperuser --noinput '
                        f"--username {ADMIN} --email {ADMIN}@{DOMAIN}", check=False, stdin=ADMIN_PASSWORD)
    done["createsuperuser"] = created
    done["login"] = admin_login()
    done["report"] = report()
    done["summary"] = container(f"{APP}-csp-report", check=False)
    done["flood"] = [report().status for _ in range(40)]
    done["package"] = playbook("site.yml", *ONLY_THE_APP, "-e",
                               json.dumps({"app_source_path": str(settings_in_a_package(root / "package"))}))
    done["package_release"] = live_release()
    done["package_page"] = get("/admin/login/")
    done["to_plain"] = playbook("playbooks/rollback.yml")
    done["to_plain_release"] = live_release()
    done["redeploy"] = playbook("site.yml", *ONLY_THE_APP)
    done["redeploy_release"] = live_release()
    for step in ("back_to_plain", "to_example", "refused"):
        done[step] = playbook("playbooks/rollback.yml")
        done[f"{step}_release"] = live_release()
    done["example_page"] = get("/")
    yield done
    if live_release() != example:
        back = playbook("site.yml", *ONLY_THE_APP)
        assert back.returncode == 0, back.stdout[-3000:]
    assert live_release() == example
    container(f"{APP}-manage shell --command \"from django.contrib.auth import get_user_model; "
              f"get_user_model().objects.filter(username='{ADMIN}').delete()\"")
    shutil.rmtree(root, ignore_errors=True)


# What Chromium sends to a report-uri when a page runs an inline script the policy does not allow.
INLINE_REPORT = {"csp-report": {
    "document-uri": f"https://{DOMAIN}/admin/login/?next=/admin/", "referrer": "",
    "violated-directive": "script-src-elem", "effective-directive": "script-src-elem",
    "original-policy": "default-src 'self'; script-src 'self'; report-uri /_csp-report/",
    "disposition": "report", "blocked-uri": "inline", "line-number": 9,
    "source-file": f"https://{DOMAIN}/admin/login/", "status-code": 200, "script-sample": ""}}


def report():
    """One violation report, POSTed as a browser does (no cookie, no CSRF token)."""
    return https_request(PORT, DOMAIN, "/_csp-report/", "POST", {"Content-Type": "application/csp-report"},
                         json.dumps(INLINE_REPORT), cafile=CA)


def admin_login():
    """The admin's login form over HTTPS as a browser posts it, then the admin index with the session."""
    form = get("/admin/login/")
    csrf = response_cookies(form)["__Host-csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    body = urlencode({"username": ADMIN, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token,
                      "next": "/admin/"})
    posted = https_request(PORT, DOMAIN, "/admin/login/", "POST",
                           {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded",
                            "Cookie": f"__Host-csrftoken={csrf}"}, body, cafile=CA)
    session = response_cookies(posted).get("__Host-sessionid")
    index = get("/admin/", f"__Host-sessionid={session.value}") if session else None
    return posted, index


def test_a_generated_project_deploys_from_bin_sandbox_with_its_modules_found(deploys):
    plain = deploys["plain"]
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-2000:]
    assert deploys["plain_release"] != deploys["example"]
    assert deploys["plain_page"].status == 200 and b"Django administration" in deploys["plain_page"].body
    # Its requirements named Django only: the role added what it serves with, at its pins.
    release = deploys["plain_release"]
    packages = container(f"{release}/venv/bin/python -m pip freeze").stdout
    assert "gunicorn==27.0.1" in packages and "django-csp==4.0" in packages and "django-axes==8.3.1" in packages
    settings = container(f"cat {release}/production_settings.py").stdout
    assert "from mysite.settings import *" in settings


def test_createsuperuser_without_a_tty_gives_an_admin_who_logs_in_over_https(deploys):
    created = deploys["createsuperuser"]
    assert created.returncode == 0, created.stderr
    posted, index = deploys["login"]
    assert posted.status == 302 and posted.getheader("Location") == "/admin/", (posted.status, posted.body[:300])
    assert index is not None and index.status == 200 and b"Site administration" in index.body


def test_report_only_reports_and_the_summary_lists_the_violation(deploys):
    page = deploys["plain_page"]
    assert page.getheader("Content-Security-Policy") is None
    assert "report-uri /_csp-report/" in page.getheader("Content-Security-Policy-Report-Only")
    assert deploys["report"].status == 204
    summary = deploys["summary"]
    assert summary.returncode == 0, summary.stderr
    assert "script-src-elem blocked inline" in summary.stdout and "on /admin/login/" in summary.stdout
    assert "?next" not in summary.stdout  # query strings are not kept


def test_a_stream_of_reports_is_cut_off_by_nginx(deploys):
    """Anyone may post reports and each is logged: nginx answers POSTs beyond the rate with 429."""
    flood = deploys["flood"]
    assert set(flood) <= {204, 429} and flood.count(429) >= 5, flood


def test_settings_in_a_package_deploy_with_no_module_variables_and_csp_enforced(deploys):
    package = deploys["package"]
    assert package.returncode == 0 and recap(package.stdout)["failed"] == 0, package.stdout[-3000:]
    assert deploys["package_release"] not in (deploys["plain_release"], deploys["example"])
    page = deploys["package_page"]
    assert page.status == 200 and page.getheader("Content-Security-Policy-Report-Only") is None
    assert "script-src 'self'" in page.getheader("Content-Security-Policy")


def test_the_rollback_playbook_goes_back_along_what_was_live_then_refuses(deploys):
    assert deploys["redeploy"].returncode == 0, deploys["redeploy"].stdout[-3000:]
    assert deploys["redeploy_release"] == deploys["example"]
    for step, release in (("to_plain", deploys["plain_release"]), ("back_to_plain", deploys["plain_release"]),
                          ("to_example", deploys["example"])):
        run = deploys[step]
        assert run.returncode == 0 and recap(run.stdout)["failed"] == 0, run.stdout[-3000:]
        assert deploys[f"{step}_release"] == release
    # The example's page renders: its own static manifest is back (the projects' collects wrote none).
    assert deploys["example_page"].status == 200
    refused = deploys["refused"]
    assert refused.returncode != 0
    # Whitespace collapsed: the YAML callback may wrap the message.
    assert "no complete release of exampleapp was live before the live one" in " ".join(refused.stdout.split())
    assert deploys["refused_release"] == deploys["example"]
