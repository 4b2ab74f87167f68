"""Render the django_app role's gunicorn configuration and let gunicorn parse it.

gunicorn (the version in .venv) loads the rendered file, and the example
project's WSGI app from its chdir, with --print-config: a typo or a wrong type
in the template fails here, without a container.
"""

import os
import re
import ssl
import subprocess
import sys

import pytest

from test_django_settings import ROLE, Templar, DataLoader, role_vars, trust_as_template


def render(name: str, values: dict) -> str:
    templar = Templar(loader=DataLoader(), variables=values)
    return templar.template(trust_as_template((ROLE / "templates" / name).read_text()))


def gunicorn_config(tmp_path, **overrides) -> dict:
    # gunicorn 27's --print-config loads the app from chdir: give it the example project.
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "current").symlink_to(ROLE.parent.parent / "examples" / "exampleapp")
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(render("gunicorn.conf.py.j2", role_vars(tmp_path, **overrides)))
    # The service's environment names the settings (production_settings there; the project's own here).
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--print-config", "-c", str(path)],
                            capture_output=True, text=True, timeout=60, check=False,
                            env=dict(os.environ, DJANGO_SETTINGS_MODULE="exampleapp.settings"))
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, re.M))


def test_socket_only_defaults(tmp_path):
    config = gunicorn_config(tmp_path)
    assert config["bind"] == "['unix:/run/exampleapp-gunicorn.sock']"
    assert config["forwarded_allow_ips"] == "['127.0.0.1']"
    # Nothing set: the project's WSGI_APPLICATION, resolved by Django as runserver does.
    assert config["wsgi_app"] == "django.core.servers.basehttp:get_internal_wsgi_application()"
    assert int(config["workers"]) == 2 * len(os.sched_getaffinity(0)) + 1
    assert (config["timeout"], config["graceful_timeout"], config["max_requests"]) == ("30", "30", "1000")
    assert config["accesslog"] == "-"
    # The scheme comes from X-Forwarded-Proto alone (nginx sets it; a client's
    # X-Forwarded-Ssl or X-Forwarded-Protocol must not count).
    assert config["secure_scheme_headers"] == "{'X-FORWARDED-PROTO': 'https'}"
    # The app loads in the master before systemd hears READY=1: a restart returns when it can
    # answer. Before each fork the master drops any database connection the import opened.
    assert config["preload_app"] == "True"
    assert config["pre_fork"] == "<pre_fork()>"


def test_socket_and_tcp_for_the_fleet(tmp_path):
    config = gunicorn_config(tmp_path, django_app_tcp_bind="10.0.0.5:8000", django_app_workers=4,
                             django_app_wsgi_module="exampleapp.wsgi:application",
                             django_app_forwarded_allow_ips=["10.0.0.1", "10.0.0.2"], django_app_timeout=60)
    assert config["bind"] == "['unix:/run/exampleapp-gunicorn.sock', '10.0.0.5:8000']"
    assert config["forwarded_allow_ips"] == "['10.0.0.1', '10.0.0.2']"
    assert (config["workers"], config["timeout"]) == ("4", "60")
    assert config["wsgi_app"] == "exampleapp.wsgi:application"


def test_mutual_tls_on_the_tcp_link(tmp_path):
    """The files internal_tls keeps; clients need a certificate from the CA."""
    config = gunicorn_config(tmp_path, django_app_tcp_bind="10.0.0.5:8000", django_app_socket="",
                             django_app_tls_name="app-hosts.internal")
    assert config["certfile"] == "/etc/hardening-tls/gunicorn.crt"
    assert config["keyfile"] == "/etc/hardening-tls/gunicorn.key"
    assert config["ca_certs"] == "/etc/hardening-tls/ca.crt"
    assert config["cert_reqs"] == str(int(ssl.CERT_REQUIRED))
    # Plain HTTP (the socket, or a private network): no TLS setting at all.
    (tmp_path / "plain").mkdir()
    plain = gunicorn_config(tmp_path / "plain")
    assert plain["certfile"] == "None" and plain["cert_reqs"] == str(int(ssl.CERT_NONE))


@pytest.mark.parametrize("socket,tcp,listens", [
    ("/run/exampleapp-gunicorn.sock", "", ["/run/exampleapp-gunicorn.sock"]),
    ("", "10.0.0.5:8000", ["10.0.0.5:8000"]),
    ("/run/exampleapp-gunicorn.sock", "10.0.0.5:8000", ["/run/exampleapp-gunicorn.sock", "10.0.0.5:8000"]),
])
def test_socket_unit(tmp_path, socket, tcp, listens):
    unit = render("gunicorn.socket.j2", role_vars(tmp_path, django_app_socket=socket, django_app_tcp_bind=tcp))
    assert re.findall(r"^ListenStream=(.+)$", unit, re.M) == listens
    assert ("SocketGroup=www-data" in unit and "SocketMode=0660" in unit) == bool(socket)


def test_service_unit_writes_only_data_media_and_logs(tmp_path):
    values = role_vars(tmp_path)
    unit = render("gunicorn.service.j2", values)
    writable = re.search(r"^ReadWritePaths=(.+)$", unit, re.M).group(1).split()
    assert writable == [values["django_app_data_dir"], values["django_app_media_root"], values["django_app_log_dir"]]
    assert "User=exampleapp" in unit and "Restart=on-failure" in unit and "ProtectSystem=strict" in unit
