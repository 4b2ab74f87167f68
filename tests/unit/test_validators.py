"""The shared validators (plugins/filter/validators.py), loaded by path: no collection install needed."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("hardening_validators", ROOT / "plugins" / "filter" / "validators.py")
v = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(v)

STRONG_KEY = "k7Qm2xV9pL4sT8wZ1nB6cR3yH5jD0fG2aE7uK9oP4iM1qW8eR6tY3"
LABEL63 = "a" * 63
LABEL64 = "a" * 64
# 4 labels of 63 + 3 dots = 255; trimmed to exactly 253 and 254 characters.
NAME253 = ".".join([LABEL63] * 3 + ["a" * 61])
NAME254 = ".".join([LABEL63] * 3 + ["a" * 62])


def test_every_filter_is_exported_and_returns_a_list():
    filters = v.FilterModule().filters()
    assert set(filters) == set(v.FILTERS)
    assert all(callable(f) for f in filters.values())
    assert filters["hostname_errors"](["example.com"], "x") == []


def assert_names(errors, name):
    assert errors, "expected errors"
    assert all(name in error for error in errors), errors


# --- hostname_errors -------------------------------------------------------

@pytest.mark.parametrize("names,options", [
    (["example.com"], {}),
    (["www.example.com", "a-b.example.co.uk"], {}),
    (["localhost"], {}),                      # a single label: fine for nginx
    ([f"{LABEL63}.com"], {}),
    ([NAME253], {}),
    (["xn--bcher-kva.example"], {}),
    (["example.com", ".example.org"], {"allow_leading_dot": True}),
    (["example.com"], {"require_dot": True}),
    (["1password.com", "example.123a"], {}),
    ([], {"min_items": 0}),
])
def test_hostnames_valid(names, options):
    assert v.hostname_errors(names, "site_names", **options) == []


@pytest.mark.parametrize("names,options,needle", [
    ([], {}, "must not be empty"),
    ("example.com", {}, "must be a list"),
    ({"example.com": 1}, {}, "must be a list"),
    (["localhost"], {"require_dot": True}, "single label"),
    ([".example.com"], {}, "starts with a dot"),
    (["..example.com"], {"allow_leading_dot": True}, "starts with a dot"),
    (["example.com."], {}, "trailing dot"),
    ([".example.com."], {"allow_leading_dot": True}, "trailing dot"),
    (["Example.com"], {}, "upper-case"),
    (["*"], {}, "wildcard"),
    (["*.example.com"], {"allow_leading_dot": True}, "wildcard"),
    (["192.0.2.1"], {}, "IP address"),
    (["2001:db8::1"], {}, "IP address"),
    (["[2001:db8::1]"], {}, "IP address"),
    (["999.1.1.1"], {}, "all-numeric"),
    (["example.com:8000"], {}, "port"),
    (["https://example.com"], {}, "URL"),
    ([f"{LABEL64}.com"], {}, "63"),
    ([NAME254], {}, "253"),
    (["-example.com"], {}, "invalid label"),
    (["example-.com"], {}, "invalid label"),
    (["exa_mple.com"], {}, "invalid label"),
    (["example..com"], {}, "invalid label"),
    (["exa mple.com"], {}, "invalid label"),
    ([""], {}, "not a host name"),
    ([None], {}, "not a host name"),
    ([42], {}, "not a host name"),
])
def test_hostnames_invalid(names, options, needle):
    errors = v.hostname_errors(names, "site_names", **options)
    assert_names(errors, "site_names")
    assert any(needle in error for error in errors), errors


def test_hostname_errors_name_the_entry():
    errors = v.hostname_errors(["example.com", "Bad.com", "*"], "nginx_server_names")
    assert len(errors) == 2
    assert errors[0].startswith('nginx_server_names[1] "Bad.com"')
    assert errors[1].startswith('nginx_server_names[2] "*"')


# --- port_errors ------------------------------------------------------------

@pytest.mark.parametrize("port", [1, 22, 443, 65535, "22", " 8000 "])
def test_ports_valid(port):
    assert v.port_errors(port, "ssh_port") == []


@pytest.mark.parametrize("port,needle", [
    (0, "out of range"), (65536, "out of range"), ("0", "out of range"), (70000, "out of range"),
    (-1, "1-65535"), (True, "1-65535"), (False, "1-65535"), (None, "1-65535"), ("ssh", "1-65535"),
    ("22.0", "1-65535"), (22.0, "1-65535"), ("", "1-65535"), ("80:90", "1-65535"), ([22], "1-65535"),
])
def test_ports_invalid(port, needle):
    errors = v.port_errors(port, "ssh_port")
    assert_names(errors, "ssh_port")
    assert needle in errors[0]


def test_port_lists():
    assert v.port_errors([80, "443"], "web_ports", many=True) == []
    assert v.port_errors([], "web_ports", many=True) == []
    assert v.port_errors([], "web_ports", many=True, min_items=1) != []
    errors = v.port_errors([80, 0, True], "web_ports", many=True)
    assert [e.split()[0] for e in errors] == ["web_ports[1]", "web_ports[2]"]
    assert_names(v.port_errors(80, "web_ports", many=True), "web_ports")


# --- path_errors ------------------------------------------------------------

@pytest.mark.parametrize("path,options", [
    ("/srv/app", {}), ("/var/lib/app-1/data_2", {}), ("/etc/nginx/tls/site.test", {}), ("/a", {}),
    ("", {"allow_empty": True}), ("/run/app-gunicorn.sock", {"suffix": ".sock"}),
])
def test_paths_valid(path, options):
    assert v.path_errors(path, "some_dir", **options) == []


@pytest.mark.parametrize("path,options,needle", [
    ("", {}, "absolute"), ("srv/app", {}, "absolute"), ("~/app", {}, "absolute"), (None, {}, "absolute"),
    ("/srv/my app", {}, "no spaces"), ("/srv/app;rm", {}, "no spaces"), ("/srv/app/", {}, "end with '/'"),
    ("/", {}, "root"), ("/srv/../etc", {}, "'..'"), ("/srv/./app", {}, "'..'"), ("/srv/..", {}, "'..'"),
    ("/srv//app", {}, "'//'"), ("/run/app.socket", {"suffix": ".sock"}, ".sock"),
    ("/run/.sock", {"suffix": ".sock"}, ".sock"), ("/srv/app\n", {}, "no spaces"),
])
def test_paths_invalid(path, options, needle):
    errors = v.path_errors(path, "some_dir", **options)
    assert_names(errors, "some_dir")
    assert needle in errors[0]


def test_path_lists_and_relative_paths():
    assert v.path_errors(["/a", "/b"], "dirs", many=True) == []
    assert v.path_errors(["/a", "b"], "dirs", many=True)[0].startswith("dirs[1]")
    assert v.relative_path_errors("requirements/prod.txt", "req") == []
    assert v.relative_path_errors("", "req", allow_empty=True) == []
    for bad in ("", "/abs.txt", "../x.txt", "a//b", "a b.txt", "dir/"):
        assert_names(v.relative_path_errors(bad, "req"), "req")


def test_file_names():
    assert v.file_name_errors("example.com", "cert") == []
    for bad in ("", ".hidden", "a/b", "a b", None):
        assert_names(v.file_name_errors(bad, "cert"), "cert")


# --- secret_key_errors ------------------------------------------------------

def test_secret_key_valid():
    assert v.secret_key_errors(STRONG_KEY, "django_app_secret_key") == []
    assert v.secret_key_errors("a" * 45 + "bcdef!#%()*+,./:;<=>?@[]^_{|}~-", "k") == []
    assert v.secret_key_errors("", "k", allow_empty=True) == []


@pytest.mark.parametrize("key,needle", [
    ("", "50"),
    ("short-key", "50"),
    (STRONG_KEY[:49], "50"),
    ("ab" * 40, "distinct"),
    ("django-insecure-" + STRONG_KEY, "django-insecure-"),
    (STRONG_KEY + " x", "no quotes, spaces"),
    (STRONG_KEY + "'", "no quotes"),
    (STRONG_KEY + "$", "no quotes"),
    (STRONG_KEY + "\\", "no quotes"),
    (STRONG_KEY + '"', "no quotes"),
    (12345, "string"),
])
def test_secret_key_invalid(key, needle):
    errors = v.secret_key_errors(key, "django_app_secret_key")
    assert all(e.startswith("django_app_secret_key is weak") for e in errors) and errors
    assert any(needle in e for e in errors), errors


def test_secret_key_limits():
    fifty = (STRONG_KEY * 2)[:50]
    assert v.secret_key_errors(fifty, "k") == []
    assert v.secret_key_errors("abcd" * 13, "k") != []        # 4 distinct
    assert v.secret_key_errors("abcde" * 10, "k") == []       # 5 distinct, 50 long


# --- integer_errors, booleans, choices --------------------------------------

@pytest.mark.parametrize("value,options", [
    (0, {}), ("0", {}), (3600, {}), ("7200", {}), (12, {"minimum": 12}), (5, {"minimum": 1, "maximum": 5}),
])
def test_integers_valid(value, options):
    assert v.integer_errors(value, "n", **options) == []


@pytest.mark.parametrize("value,options", [
    (-1, {}), ("-1", {}), (3600.5, {}), (3600.0, {}), ("3600.5", {}), (True, {}), (False, {}), (None, {}),
    ("two years", {}), ("", {}), ([1], {}), (11, {"minimum": 12}), (6, {"minimum": 1, "maximum": 5}),
])
def test_integers_invalid(value, options):
    assert_names(v.integer_errors(value, "some_number", **options), "some_number")


def test_booleans():
    assert v.boolean_errors(True, "b") == v.boolean_errors(False, "b") == []
    for bad in ("yes", "no", "true", 1, 0, None):
        assert_names(v.boolean_errors(bad, "flag"), "flag")


def test_debug_must_be_false():
    for ok in (False, "false", "no", "off", "0", "False"):
        assert v.debug_errors(ok, "django_app_debug") == []
    for bad in (True, "yes", "true", 1, "on", None, "maybe"):
        errors = v.debug_errors(bad, "django_app_debug")
        assert errors and "django_app_debug must be false" in errors[0]


def test_choices_required_and_exactly_one():
    assert v.choice_errors("alice", "connect_as", ["alice", "bob"]) == []
    assert_names(v.choice_errors("carol", "connect_as", ["alice", "bob"]), "connect_as")
    assert v.required_errors("main", "version") == []
    for bad in ("", None, []):
        assert_names(v.required_errors(bad, "version"), "version")
    assert v.exactly_one_errors({"src_path": "/x", "src_git": ""}) == []
    for both in ({"src_path": "/x", "src_git": "https://g"}, {"src_path": "", "src_git": ""}):
        errors = v.exactly_one_errors(both)
        assert errors and "src_path" in errors[0] and "src_git" in errors[0]
    assert v.at_least_one_errors({"socket": "/run/a.sock", "bind": ""}) == []
    assert v.at_least_one_errors({"socket": "/run/a.sock", "bind": "127.0.0.1:80"}) == []
    errors = v.at_least_one_errors({"socket": "", "bind": ""})
    assert errors and "socket" in errors[0] and "bind" in errors[0]


# --- accounts and SSH keys --------------------------------------------------

def test_account_names():
    for ok in ("alice", "_svc", "ssh-users", "a" * 32):
        assert v.account_name_errors(ok, "group") == []
    for bad in ("", "Alice", "1alice", "a" * 33, "al ice", None, "al.ice"):
        assert_names(v.account_name_errors(bad, "group"), "group")


def test_admin_users():
    good = [{"name": "alice", "authorized_keys": ["ssh-ed25519 AAAA"]}]
    assert v.admin_users_errors(good, "admins") == []
    cases = [
        [],
        "alice",
        [{"name": "root", "authorized_keys": ["ssh-ed25519 AAAA"]}],
        [{"name": "Alice", "authorized_keys": ["ssh-ed25519 AAAA"]}],
        [{"name": "alice", "authorized_keys": []}],
        [{"name": "alice"}],
        ["alice"],
    ]
    for bad in cases:
        assert_names(v.admin_users_errors(bad, "admins"), "admins")
    assert "root" in v.admin_users_errors(cases[2], "admins")[0]


def test_sudo_password_needs_a_crypt_hash_and_never_shows_it():
    key = ["ssh-ed25519 AAAA"]
    yescrypt = "$y$j9T$abcdefghijklmnopqrstu.$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno12"
    sha512 = "$6$saltsalt$" + "a" * 86
    for good in ({"sudo": "password", "password_hash": yescrypt}, {"sudo": "password", "password_hash": sha512},
                 {"sudo": "nopasswd", "password_hash": sha512}, {"sudo": "nopasswd"}):
        assert v.admin_users_errors([{"name": "alice", "authorized_keys": key, **good}], "admins") == []
    missing = v.admin_users_errors([{"name": "alice", "authorized_keys": key, "sudo": "password"}], "admins")
    assert_names(missing, "admins")
    assert "password_hash is empty" in missing[0]
    plain = v.admin_users_errors([{"name": "alice", "authorized_keys": key, "sudo": "password",
                                   "password_hash": "hunter2-but-longer-than-twenty"}], "admins")
    assert_names(plain, "admins")
    assert "hunter2" not in plain[0] and "crypt hash" in plain[0]


def keygen(key, rc=0, stdout="256 SHA256:abc alice (ED25519)", stderr=""):
    return {"item": [{"name": "alice"}, key], "rc": rc, "stdout": stdout, "stderr": stderr}


def test_ssh_keygen_results():
    assert v.ssh_keygen_errors([keygen("ssh-ed25519 AAAA alice")], "users") == []
    assert v.ssh_keygen_errors([keygen("ssh-rsa AAAA", stdout="4096 SHA256:x a (RSA)")], "users", 3072) == []
    assert v.ssh_keygen_errors([{"skipped": True}], "users") == []
    assert v.ssh_keygen_errors([], "users") == []
    bad = [
        keygen("-----BEGIN OPENSSH PRIVATE KEY----- abc", rc=255, stdout="", stderr="not a public key"),
        keygen("ssh-ed25519 bm90", rc=255, stdout="", stderr="is not a public key file."),
        keygen("AAAA alice"),
        keygen("ssh-rsa AAAA", stdout="2048 SHA256:x a (RSA)"),
    ]
    errors = v.ssh_keygen_errors(bad, "ssh_hardening_admin_users", 3072)
    assert len(errors) == 4
    assert all(e.startswith("ssh_hardening_admin_users[alice].authorized_keys") for e in errors)
    assert "PRIVATE" in errors[0] and "2048 bits" in errors[3]


# --- authorized_keys lines with options -------------------------------------

@pytest.mark.parametrize("line,options,key", [
    ("ssh-ed25519 AAAA alice", "", "ssh-ed25519 AAAA alice"),
    ("  ecdsa-sha2-nistp256 AAAA  ", "", "ecdsa-sha2-nistp256 AAAA"),
    ('from="10.0.0.0/8",restrict ssh-ed25519 AAAA alice', 'from="10.0.0.0/8",restrict', "ssh-ed25519 AAAA alice"),
    # Quoted values may hold spaces, commas and escaped quotes; names are case-insensitive.
    ('no-port-forwarding,command="echo a, b \\"c\\"" ssh-ed25519 AAAA c d',
     'no-port-forwarding,command="echo a, b \\"c\\""', "ssh-ed25519 AAAA c d"),
    ('Restrict,PTY,from="192.0.2.1,!192.0.2.2"\tssh-rsa AAAA', 'Restrict,PTY,from="192.0.2.1,!192.0.2.2"',
     "ssh-rsa AAAA"),
    ('environment="A=b c",expiry-time="20300101",permitopen="h:22",permitlisten="8080",principals="a",'
     'tunnel="1",no-agent-forwarding,no-x11-forwarding,no-pty,no-user-rc,no-touch-required,'
     'verify-required,cert-authority,agent-forwarding,x11-forwarding,port-forwarding,user-rc ssh-ed25519 A',
     None, "ssh-ed25519 A"),
])
def test_authorized_key_lines_split_into_options_and_key(line, options, key):
    got_options, got_key = v.split_authorized_key(line)
    assert got_options == (options if options is not None else line.rsplit(" ", 2)[0])
    assert got_key == key
    assert v.authorized_key_part(line) == key


@pytest.mark.parametrize("line,needle", [
    ("AAAA alice", "unknown option"),
    ("bogus-option ssh-ed25519 AAAA", "unknown option"),
    ("restrict", "no key after the options"),
    ('command="ls" ', "no key after the options"),
    ("from=10.0.0.1 ssh-ed25519 AAAA", "double quotes"),
    ('command="ls ssh-ed25519 AAAA', "no closing double quote"),
    ('from="" ssh-ed25519 AAAA', "empty"),
    ('restrict="yes" ssh-ed25519 AAAA', "takes no value"),
    ("command ssh-ed25519 AAAA", "needs a value"),
    ("restrict,,pty ssh-ed25519 AAAA", "option name"),
    ('restrict;command="x" ssh-ed25519 AAAA', "separated by commas"),
    ("", "option name"),
])
def test_authorized_key_lines_with_bad_options_are_refused(line, needle):
    with pytest.raises(ValueError, match=needle):
        v.split_authorized_key(line)
    assert v.authorized_key_part(line) == line.strip()


def real_keygen(line):
    """The registered result of validate.yml's ssh-keygen task for line, run for real."""
    key_part = v.authorized_key_part(line)
    run = subprocess.run(["ssh-keygen", "-l", "-f", "/dev/stdin"], input=key_part, capture_output=True,
                         text=True, check=False)
    return {"item": [{"name": "alice"}, line], "rc": run.returncode, "stdout": run.stdout, "stderr": run.stderr}


@pytest.fixture(scope="module")
def public_keys(tmp_path_factory):
    """Real public keys: ed25519, RSA 3072 and RSA 2048 (TYPE BASE64, no comment)."""
    folder = tmp_path_factory.mktemp("keys")
    keys = {}
    for name, args in (("ed25519", ["-t", "ed25519"]), ("rsa3072", ["-t", "rsa", "-b", "3072"]),
                       ("rsa2048", ["-t", "rsa", "-b", "2048"])):
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", "", *args, "-f", str(folder / name)], check=True)
        keys[name] = " ".join((folder / f"{name}.pub").read_text().split()[:2])
    return keys


def test_real_keys_with_options_are_accepted(public_keys):
    lines = [
        f"{public_keys['ed25519']} alice@laptop",
        f'from="10.0.0.0/8",restrict {public_keys["ed25519"]} alice@laptop',
        f'no-port-forwarding,command="/usr/local/bin/backup --to \\"x, y\\"" {public_keys["rsa3072"]} backup',
    ]
    results = [real_keygen(line) for line in lines]
    assert all(result["rc"] == 0 for result in results), results
    assert v.ssh_keygen_errors(results, "users", 3072) == []


def test_real_keys_with_bad_options_or_small_rsa_are_refused(public_keys):
    ed25519 = public_keys["ed25519"]
    cases = [
        (f"bogus {ed25519} alice", "unknown option"),
        (f"from=10.0.0.1 {ed25519} alice", "double quotes"),
        (f'restrict {ed25519.split()[0]} bm90IGEga2V5 alice', "not a usable public key"),
        (f'restrict {public_keys["rsa2048"]} old', "2048 bits"),
        # ansible.posix.authorized_key would not write these as given.
        (f'command="a  b" {ed25519}', "several spaces"),
        (f'command="echo ssh-rsa x" {ed25519}', "taken for the key type"),
    ]
    for line, needle in cases:
        errors = v.ssh_keygen_errors([real_keygen(line)], "ssh_hardening_admin_users", 3072)
        assert len(errors) == 1 and needle in errors[0], (line, errors)
        assert errors[0].startswith("ssh_hardening_admin_users[alice].authorized_keys"), errors


# --- Python names, URLs, CSP, e-mail ---------------------------------------

def test_modules():
    assert v.module_errors("exampleapp.settings", "m") == []
    assert v.module_errors("exampleapp.wsgi:application", "w", with_callable=True) == []
    for bad in ("", "x; import os", "1app.settings", "app..settings", "app.settings:", None):
        assert_names(v.module_errors(bad, "m"), "m")
    for bad in ("exampleapp.wsgi", "exampleapp.wsgi:app:x", "exampleapp.wsgi:1app", "a b:c"):
        assert_names(v.module_errors(bad, "w", with_callable=True), "w")


def test_url_paths():
    for ok in ("/", "/static/", "/assets/v1/"):
        assert v.url_path_errors(ok, "static_url") == []
    for bad in ("static/", "/static", "/sta tic/", "/static;/", "/a/../b/", "", None, "//"):
        assert_names(v.url_path_errors(bad, "static_url"), "static_url")


def test_exact_url_paths():
    assert v.exact_url_paths_errors([], "login_paths") == []
    assert v.exact_url_paths_errors(["/accounts/login/", "/login", "/staff-7f/login/"], "login_paths") == []
    for bad in (["accounts/login/"], ["/a b/"], ["/login;"], ["/a/../login/"], ["//"], [""], [None], "/login/"):
        assert_names(v.exact_url_paths_errors(bad, "login_paths"), "login_paths")


def test_environments():
    assert v.environment_errors({}, "env") == []
    assert v.environment_errors({"PIP_INDEX_URL": "https://u:t@example.com/simple", "PIP_TIMEOUT": 60}, "env") == []
    for bad in ({"PIP INDEX": "x"}, {"1X": "x"}, {"X": "a\nb"}, {"X": None}, {"X": True}, ["X=1"], "X=1"):
        assert_names(v.environment_errors(bad, "env"), "env")
    assert "s3cret" not in " ".join(v.environment_errors({"X": "s3cret\nmore"}, "env"))


def test_git_urls_without_credentials():
    for ok in ("", "https://git.example.com/you/project.git", "ssh://git@git.example.com/you/project.git",
               "git@github.com:you/project.git", "file:///srv/git/project.git"):
        assert v.git_url_errors(ok, "git") == []
    for bad in ("https://token@git.example.com/p.git", "https://user:s3cret@git.example.com/p.git",
                "ssh://git:s3cret@git.example.com/p.git", "HTTP://oauth2:s3cret@gitlab.example.com/p.git"):
        errors = v.git_url_errors(bad, "git")
        assert_names(errors, "git")
        assert "s3cret" not in errors[0] and "token@" not in errors[0]


def test_rates():
    for ok in ("10r/m", "1r/s", "300r/m"):
        assert v.rate_errors(ok, "rate") == []
    for bad in ("10", "10 r/m", "0r/s", "10r/h", "r/m", 10, None):
        assert_names(v.rate_errors(bad, "rate"), "rate")


def test_admin_urls():
    for ok in ("admin/", "staff/console/", "a.b~c-d/"):
        assert v.admin_url_errors(ok, "admin_url") == []
    for bad in ("/admin/", "admin", "", "admin//", "staff/../admin/", "../", "adm in/", None):
        assert_names(v.admin_url_errors(bad, "admin_url"), "admin_url")


def test_csp():
    assert v.csp_errors({}, "csp") == []
    assert v.csp_errors({"default-src": ["'self'"], "img-src": ["'self'", "data:", "https://cdn.example.com"]},
                        "csp") == []
    for bad in ("default-src 'self'", ["default-src"], {"default-src": "'self'"},
                {"default src": ["'self'"]}, {"default-src": ["'self'; script-src *"]},
                {"default-src": ["a, b"]}, {"default-src": [1]}):
        assert_names(v.csp_errors(bad, "csp"), "csp")


def test_email():
    assert v.email_errors("ops@example.com", "email") == []
    assert v.email_errors("", "email", allow_empty=True) == []
    for bad in ("", "ops", "ops@example", "a b@example.com", "ops@@example.com", None):
        assert_names(v.email_errors(bad, "email"), "email")


def test_https_and_database_urls():
    assert v.https_url_errors("https://acme-v02.api.letsencrypt.org/directory", "u") == []
    assert v.https_url_errors("https://127.0.0.1:14000/dir", "u") == []
    for bad in ("http://x/dir", "https://", "https://a b/", "", None):
        assert_names(v.https_url_errors(bad, "u"), "u")
    for ok in ("", "postgres://u:p@db:5432/app", "postgresql://u@db/app?sslmode=require"):
        assert v.database_url_errors(ok, "db") == []
    for bad in ("mysql://u:p@h/db", "postgres://u:p@h/", "postgres://u:p'@h/db", "postgres://h/db x"):
        assert_names(v.database_url_errors(bad, "db"), "db")
    assert v.database_url_errors("", "db", allow_empty=False) != []


def test_sizes_and_durations():
    for ok in ("10m", "1024", "1G", "0"):
        assert v.size_errors(ok, "s") == []
    for bad in ("10 m", "10mb", "", "-1", True):
        assert_names(v.size_errors(bad, "s"), "s")
    for ok in ("30s", "500ms", "5m", "1h", "60"):
        assert v.duration_errors(ok, "t") == []
    for bad in ("30 s", "30sec", "", "1d", False):
        assert_names(v.duration_errors(bad, "t"), "t")


# --- gunicorn bind, upstreams, networks, firewall rules ----------------------

def test_bind():
    for ok in ("127.0.0.1:8000", "0.0.0.0:8000", "[::1]:8000", "app.internal:8000", "localhost:8000"):
        assert v.bind_errors(ok, "bind") == []
    assert v.bind_errors("", "bind", allow_empty=True) == []
    for bad in ("", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "999.1.1.1:80", "[::g]:80", "::1:80",
                "App.Internal:80", "host:port", "*:8000", "10.0.0.1:80:90"):
        assert_names(v.bind_errors(bad, "bind"), "bind")


def test_upstreams():
    assert v.upstream_errors(["unix:/run/app-gunicorn.sock"], "up") == []
    assert v.upstream_errors(["10.0.0.5:8000", "[fd00::5]:8000", "app1.internal:8000"], "up") == []
    for bad in ([], "unix:/run/a.sock", ["unix:run/a.sock"], ["unix:/run/a b.sock"], ["10.0.0.5"],
                ["10.0.0.5:0"], ["http://10.0.0.5:8000"], ["10.0.0.5:8000;"]):
        assert_names(v.upstream_errors(bad, "up"), "up")


def test_networks():
    assert v.network_errors(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"], "ips") == []
    assert v.network_errors(["any"], "src", allow_any=True) == []
    for bad in (["*"], ["any"], ["0.0.0.0/0"], ["::/0"], ["10.0.0.1/8"], ["10.0.0.300"], ["abc"], [""],
                "127.0.0.1", [None]):
        assert_names(v.network_errors(bad, "ips"), "ips")
    assert "IPv6" in v.network_errors(["::1"], "ips", ipv6=False)[0]
    assert v.network_errors([], "ips", min_items=1) != []


@pytest.mark.parametrize("sources", [["any"], ["203.0.113.7"], ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]])
def test_allowed_sources_valid(sources):
    assert v.allowed_sources_errors(sources, "ufw_ssh_sources") == []


@pytest.mark.parametrize("sources,needle", [
    ([], "must not be empty"),
    ("10.0.0.1", "must be a list"),
    ([""], "not an IPv4/IPv6 address"),
    (["bastion.example.com"], "not an IPv4/IPv6 address"),
    (["10.0.0.300"], "not an IPv4/IPv6 address"),
    (["10.0.0.1/8"], "host bits"),
    (["0.0.0.0/0"], "everyone"),
    (["*"], "everyone"),
    (["any", "10.0.0.1"], "beside other sources"),
    ([None], "not an IPv4/IPv6 address"),
])
def test_allowed_sources_invalid(sources, needle):
    errors = v.allowed_sources_errors(sources, "ufw_ssh_sources")
    assert_names(errors, "ufw_ssh_sources")
    assert any(needle in error for error in errors), errors


def test_allowed_sources_ipv6_only_when_on():
    assert "IPv6" in v.allowed_sources_errors(["2001:db8::1"], "s", ipv6=False)[0]


def test_firewall_rules():
    good = [{"port": 8080}, {"port": "60000:61000", "proto": "udp", "from": "10.0.0.0/8", "comment": "mosh"},
            {"port": "53", "proto": "any", "from": "::1"}]
    assert v.firewall_rule_errors(good, "ufw_rules") == []
    cases = [
        ({"port": 70000}, "ufw_rules[0].port"),
        ({"port": "http"}, "ufw_rules[0].port"),
        ({"port": True}, "ufw_rules[0].port"),
        ({"port": "80:"}, "ufw_rules[0].port"),
        ({"port": "90:80"}, "end is below"),
        ({"port": "80:90", "proto": "any"}, "only with proto tcp or udp"),
        ({"port": 80, "from": "10.0.0.300/8"}, "ufw_rules[0].from"),
        ({"port": 80, "from": "10.1.2.3/8"}, "host bits"),
        ({"port": 80, "from": "0.0.0.0/0"}, "ufw_rules[0].from"),
        ({"port": 80, "comment": "a;b"}, "ufw_rules[0].comment"),
        ({"port": 80, "comment": "x" * 201}, "ufw_rules[0].comment"),
        ("port 80", "ufw_rules[0]"),
    ]
    for rule, needle in cases:
        errors = v.firewall_rule_errors([rule], "ufw_rules")
        assert errors and needle in errors[0], (rule, errors)
    assert "IPv6" in v.firewall_rule_errors([{"port": 1, "from": "::1"}], "ufw_rules", ipv6=False)[0]
    assert_names(v.firewall_rule_errors({"port": 80}, "ufw_rules"), "ufw_rules")


# --- host_baseline validators ----------------------------------------------

@pytest.mark.parametrize("settings", [
    {},
    {"net.ipv4.ip_forward": 1},
    {"net.ipv4.conf.eth0.rp_filter": "2", "kernel.yama.ptrace_scope": 1},
    {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv6.conf.enp0s3-v.accept_ra": 0},
    {"vm.swappiness": 10, "fs.protected_fifos": 2, "kernel.core_uses_pid": "1"},
])
def test_sysctl_settings_valid(settings):
    assert v.sysctl_settings_errors(settings, "host_baseline_sysctl") == []


@pytest.mark.parametrize("settings,needle", [
    ([], "must be a mapping"),
    ({"net..ipv4": 1}, "is not a sysctl key"),
    ({"Net.ipv4.ip_forward": 1}, "is not a sysctl key"),
    ({"ip_forward": 1}, "is not a sysctl key"),
    ({"bogus.ipv4.ip_forward": 1}, "is not a sysctl key"),
    ({"net/ipv4/ip_forward": 1}, "is not a sysctl key"),
    ({"net.ipv4.ip_forward": True}, "host_baseline_sysctl[net.ipv4.ip_forward]"),
    ({"net.ipv4.ip_forward": None}, "whole number"),
    ({"net.ipv4.ip_forward": 1.5}, "whole number"),
    ({"net.ipv4.ip_forward": [1]}, "whole number"),
    ({"net.ipv4.ip_forward": ""}, "whole number"),
    ({"net.ipv4.ip_forward": "1\nkernel.sysrq = 1"}, "whole number"),
    ({"net.ipv4.ip_forward": "1 # comment"}, "whole number"),
])
def test_sysctl_settings_invalid(settings, needle):
    errors = v.sysctl_settings_errors(settings, "host_baseline_sysctl")
    assert_names(errors, "host_baseline_sysctl")
    assert any(needle in error for error in errors), errors


@pytest.mark.parametrize("value", ["00:00", "02:30", "23:59", "12:05"])
def test_clock_times_valid(value):
    assert v.clock_time_errors(value, "host_baseline_updates_reboot_time") == []


@pytest.mark.parametrize("value", ["2:30", "24:00", "12:60", "02:30:00", "now", "", 230, None, "02h30", " 02:30"])
def test_clock_times_invalid(value):
    assert_names(v.clock_time_errors(value, "host_baseline_updates_reboot_time"), "host_baseline_updates_reboot_time")


def test_kernel_modules():
    assert v.kernel_module_errors(["dccp", "usb-storage", "hfsplus", "nf_conntrack"], "mods") == []
    assert v.kernel_module_errors([], "mods") == []
    for bad in (["DCCP"], ["dccp /bin/true"], ["../x"], [""], [1], "dccp"):
        assert_names(v.kernel_module_errors(bad, "mods"), "mods")
    assert "mods[1]" in v.kernel_module_errors(["dccp", "bad name"], "mods")[0]


def test_ntp_servers():
    assert v.ntp_server_errors(["0.debian.pool.ntp.org", "192.0.2.1", "2001:db8::1", "ntp"], "ntp") == []
    assert_names(v.ntp_server_errors([], "ntp"), "ntp")
    assert v.ntp_server_errors([], "ntp", min_items=0) == []
    for bad in (["ntp.example.com:123"], ["NTP.example.com"], ["https://ntp.example.com"], [""], "pool.ntp.org"):
        assert_names(v.ntp_server_errors(bad, "ntp"), "ntp")


def test_systemd_sizes():
    for good in ("500M", "1G", "64K", "2T", "1048576", 1048576):
        assert v.systemd_size_errors(good, "size") == [], good
    for bad in ("500m", "500MB", "0", "-1", "1.5G", "", True, None, "500 M"):
        assert_names(v.systemd_size_errors(bad, "size"), "size")


def test_login_defs():
    good = {"UMASK": "027", "ENCRYPT_METHOD": "YESCRYPT", "PASS_MAX_DAYS": 99999, "PASS_MIN_DAYS": "1",
            "PASS_WARN_AGE": 7, "HOME_MODE": "0750"}
    assert v.login_defs_errors(good, "defs") == []
    assert v.login_defs_errors({"UMASK": "0027"}, "defs") == []
    for bad, needle in (({"UMASK": 27}, "octal umask"), ({"UMASK": "028"}, "octal umask"),
                        ({"umask": "027"}, "not a login.defs key"), ({"PASS_MAX_DAYS": "never"}, "whole number"),
                        ({"PASS_MIN_DAYS": True}, "whole number"), ({"ENCRYPT_METHOD": "SHA 512"}, "one word"),
                        ({"ENCRYPT_METHOD": "YESCRYPT\nUMASK 000"}, "one word"), ([], "must be a mapping")):
        errors = v.login_defs_errors(bad, "defs")
        assert_names(errors, "defs")
        assert any(needle in error for error in errors), errors


def test_banners():
    assert v.banner_errors("", "banner") == []
    assert v.banner_errors("Authorised use only.\nActivity is logged.", "banner") == []
    assert_names(v.banner_errors("Debian \\s \\r", "banner"), "banner")
    assert_names(v.banner_errors("x" * 2001, "banner"), "banner")
    assert_names(v.banner_errors(None, "banner"), "banner")


@pytest.mark.parametrize("url", ["", "https://hooks.example.com/T0/B1/secret", "http://127.0.0.1:9099/alert",
                                 "http://localhost/relay", "http://[::1]:8080/"])
def test_webhook_urls_accepted(url):
    assert v.webhook_url_errors(url, "certbot_alert_webhook_url") == []


@pytest.mark.parametrize("url", ["http://hooks.example.com/secret", "ftp://x", "https://a b", 5,
                                 "http://127.0.0.1.evil.example/secret"])
def test_webhook_urls_refused_without_showing_the_value(url):
    errors = v.webhook_url_errors(url, "certbot_alert_webhook_url")
    assert len(errors) == 1 and errors[0].startswith("certbot_alert_webhook_url must be an https:// URL")
    assert "secret" not in errors[0]


def test_sysctl_keys_the_kernel_lacks_are_named():
    paths = {"/proc/sys/net/ipv4/tcp_syncookies": {"exists": True},
             "/proc/sys/net/ipv4/tcp_syncookie": {"exists": False}}
    settings = {"net.ipv4.tcp_syncookies": 1, "net.ipv4.tcp_syncookie": 1}
    assert v.sysctl_unknown_errors(settings, "host_baseline_sysctl", paths) == [
        "host_baseline_sysctl: net.ipv4.tcp_syncookie is not known to this kernel "
        "(no /proc/sys/net/ipv4/tcp_syncookie): a typo, or its module is not loaded"]
    assert v.sysctl_unknown_errors({}, "host_baseline_sysctl", {}) == []


# --- the fleet's database and its CA -----------------------------------------

def test_certificate_names():
    assert v.certificate_names_errors(["10.0.0.5", "fd00::5", "db.internal", "db"], "n") == []
    for bad in ([], ["10.0.0.0/24"], ["*.internal"], ["https://db"], [""], "10.0.0.5"):
        assert_names(v.certificate_names_errors(bad, "n"), "n")


def test_outside_errors_refuses_the_checkout_and_what_lies_in_it(tmp_path):
    inside = tmp_path / "repo"
    (inside / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(inside / "sub")
    why = "keep it out"
    assert v.outside_errors(str(tmp_path / "elsewhere" / "ca"), "ca_dir", str(inside), why) == []
    assert v.outside_errors(str(tmp_path / "repository-ca"), "ca_dir", str(inside), why) == []
    for bad in (inside, inside / "sub" / "ca", tmp_path / "link" / "ca"):
        errors = v.outside_errors(str(bad), "ca_dir", str(inside), why)
        assert_names(errors, "ca_dir")
        assert why in errors[0]
    assert_names(v.outside_errors("relative/ca", "ca_dir", str(inside), why), "ca_dir")


def test_sql_names_and_passwords():
    assert v.sql_name_errors("exampleapp_2", "db") == []
    for bad in ("", "2app", "App", "a-b", "a" * 64, 5, "a;drop", "all", "sameuser", "replication", "postgres",
                "template1", "pg_monitor"):
        assert_names(v.sql_name_errors(bad, "db"), "db")


def test_listen_addresses():
    assert v.listen_address_errors(["10.0.0.5", "fd00::5"], "listen") == []
    for bad in ([], ["0.0.0.0"], ["::"], ["127.0.0.1"], ["::1"], ["db.internal"], ["10.0.0.0/24"], "10.0.0.5"):
        assert_names(v.listen_address_errors(bad, "listen"), "listen")
    assert v.password_errors("x" * 16, "pw") == []
    for bad in ("", None, "x" * 15, "x" * 16 + " y"):
        assert_names(v.password_errors(bad, "pw"), "pw")
    # The message never shows the password itself.
    assert "secret-value" not in " ".join(v.password_errors("secret-value", "pw"))


def test_the_plain_http_link_stays_on_private_addresses():
    private = ["", "unix:/run/app/app.sock", "10.0.0.5:8000", "172.16.3.4:8000", "192.168.1.2:8000",
               "100.64.0.7:8000", "[fd00::5]:8000", "127.0.0.1:8000", "app1.internal:8000"]
    for good in private:
        assert v.private_link_errors(good, "bind") == [], good
    assert v.private_link_errors(private, "upstreams") == []
    for bad in ("8.8.8.8:8000", "[2a00:1450::1]:8000"):
        errors = v.private_link_errors(bad, "bind")
        assert_names(errors, "bind")
        assert "public address" in errors[0] and "private_address" in errors[0]
    errors = v.private_link_errors(["10.0.0.5:8000", "1.1.1.1:8000"], "upstreams")
    assert len(errors) == 1 and errors[0].startswith("upstreams[1] ")


def test_settings_that_only_work_together_are_set_together():
    assert v.together_errors({"cert": "", "key": ""}) == []
    assert v.together_errors({"cert": "/a.crt", "key": "/a.key"}) == []
    errors = v.together_errors({"cert": "/a.crt", "key": "", "ca": ""}, "mutual TLS")
    assert errors == ["key and ca must be set with cert (mutual TLS)"]


def test_a_mutual_tls_link_may_cross_a_public_address():
    assert v.private_link_errors("203.0.113.9:8000", "bind", tls=True) == []
    assert v.private_link_errors(["8.8.8.8:8000"], "upstreams", tls=True) == []
    errors = v.private_link_errors("8.8.8.8:8000", "bind")
    assert "internal_ca_dir" in errors[0], errors
