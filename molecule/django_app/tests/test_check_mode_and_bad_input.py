"""Check mode on the converged hosts, and bad input refused before any change."""

import os

import pytest

from testlib import assert_check_mode_clean, assert_fails_before_any_change

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = ("readlink /srv/exampleapp/current; ls /srv/exampleapp/releases;"
         " sha256sum /etc/exampleapp/env /etc/exampleapp/gunicorn.conf.py /etc/systemd/system/exampleapp-gunicorn.*"
         " /etc/exampleapp-backup.json /etc/systemd/system/exampleapp-backup.*;"
         " systemctl show -p MainPID exampleapp-gunicorn.service")


def test_check_mode_reports_no_change():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=1)


BAD = [
    ("empty ALLOWED_HOSTS", {"django_app_domains": []}, "django_app_domains"),
    ("DEBUG true", {"django_app_debug": True}, "django_app_debug must be false"),
    ("HSTS max-age not an integer", {"django_app_hsts_seconds": "two years"}, "django_app_hsts_seconds"),
    ("weak SECRET_KEY", {"django_app_secret_key": "django-insecure-" + "x1" * 30}, "django_app_secret_key is weak"),
    ("short SECRET_KEY", {"django_app_secret_key": "tooshort"}, "django_app_secret_key is weak"),
    ("source that does not exist", {"django_app_source_path": "/nonexistent/project"}, "does not exist"),
    ("no socket and no TCP", {"django_app_socket": "", "django_app_tcp_bind": ""}, "django_app_socket"),
    ("SameSite None", {"django_app_cookie_samesite": "None"}, "django_app_cookie_samesite"),
    # Nothing is sent to the address: the run fails before any change.
    ("gunicorn on a public address", {"django_app_socket": "", "django_app_tcp_bind": "8.8.8.8:8000"},
     "is a public address: the plain HTTP between nginx and gunicorn"),
    ("a token in the git URL", {"django_app_source_path": "",
                                "django_app_source_git": "https://oauth2:s3cret@git.example.com/p.git"},
     "django_app_source_git carries a credential in its URL"),
    ("a deploy key without the server's host key", {"django_app_source_path": "",
                                                     "django_app_source_git": "ssh://git@git.example.com/p.git",
                                                     "django_app_git_ssh_key": "not checked before this"},
     "django_app_git_known_hosts must be set"),
    # Role backup's check, run with the app's own, names the app's variable.
    ("no SQLite backup kept", {"django_app_backup_keep": 0}, "django_app_backup_keep"),
]


@pytest.mark.parametrize("extra,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    if not host.backend.get_hostname().endswith("bookworm"):
        pytest.skip("input checks run on the controller before any change: Debian 12 only (see molecule.yml)")
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"), extra, needle, STATE)


def test_a_project_naming_no_settings_module_is_refused_before_any_change(host, tmp_path):
    """No app_settings_module and a manage.py that sets no default: the message says what to set."""
    if not host.backend.get_hostname().endswith("bookworm"):
        pytest.skip("input checks run on the controller before any change: Debian 12 only (see molecule.yml)")
    (tmp_path / "manage.py").write_text("import sys\n# the settings come from the environment\n")
    assert_fails_before_any_change(host, os.path.join(SCENARIO, "bad_input.yml"),
                                   {"django_app_source_path": str(tmp_path)},
                                   "sets no default DJANGO_SETTINGS_MODULE", STATE)
