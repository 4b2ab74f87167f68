"""The fleet's database as the app host and an outsider meet it: the app's role reaches its
database over TLS 1.3 with a certificate and name it verifies; plain connections, wrong
passwords, other roles and other databases are refused; the test machine cannot reach the port;
a backup restores what was destroyed. Both platforms (PostgreSQL 15 and 17)."""

import json
import os
import socket
import subprocess
import uuid

import pytest
import testinfra
import yaml

from testlib import assert_check_mode_clean, changed_tasks, recap_changes, run_playbook

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERGE = os.path.join(SCENARIO, "converge.yml")
PREFIX = os.environ.get("TESTBED_PREFIX_POSTGRESQL", "21")
DB_HOSTS = {"bookworm": f"10.89.{PREFIX}.11", "trixie": f"10.89.{PREFIX}.12"}
DATABASE = USER = "exampleapp"
CA = "/etc/hardening-tls/ca.crt"
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "testbed",
                                                    "containers.conf"))
# set -e: a file missing from the list fails the read instead of dropping out of the comparison.
STATE = ("set -e; sha256sum /etc/postgresql/*/main/pg_hba.conf /etc/postgresql/*/main/conf.d/50-hardening-listen.conf"
         " /etc/postgresql/*/main/conf.d/51-hardening.conf /etc/postgresql-backup.json; ufw status")

# The db hosts are the tests' hosts; the client is reached by name below.
testinfra_hosts = [f"ansible://postgresql-{name}" for name in DB_HOSTS]


def password() -> str:
    with open(os.path.join(SCENARIO, "group_vars", "all", "scenario.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["db_password"]


@pytest.fixture(scope="module")
def client():
    """The app host, with a password file per kind (written through stdin: never on a command line)."""
    host = testinfra.get_host("podman://postgresql-client")
    for kind, secret in (("good", password()), ("wrong", password() + "-wrong")):
        lines = "".join(f"{address}:5432:*:*:{secret}\n" for address in DB_HOSTS.values())
        subprocess.run(["podman", "exec", "-i", "postgresql-client", "sh", "-c",
                        f"umask 077 && cat > /root/.pgpass-{kind}"], input=lines, text=True, check=True, env=ENV)
    return host


def release(host) -> str:
    return "bookworm" if "bookworm" in host.backend.get_hostname() else "trixie"


def psql(client, address: str, sql: str, *, user: str = USER, database: str = DATABASE,
         sslmode: str = "verify-full", passfile: str = "good", host_name: str = "", extra: str = ""):
    """Run sql on the app host as a libpq client would connect (host_name: the name it verifies)."""
    target = f"host={host_name} hostaddr={address}" if host_name else f"host={address}"
    return client.run(
        f"PGPASSFILE=/root/.pgpass-{passfile} PGCONNECT_TIMEOUT=5 psql -XAtq "
        f"'{target} port=5432 dbname={database} user={user} sslmode={sslmode} sslrootcert={CA} {extra}' "
        f"-c \"{sql}\"")


def superuser(host, sql: str) -> str:
    """sql as postgres on the db host (root maps to it through pg_ident.conf)."""
    return host.check_output(f"psql -XAtq -U postgres -d {DATABASE} -c \"{sql}\"")


def test_the_app_connects_over_tls_13_verifying_the_certificate_and_name(host, client):
    result = psql(client, DB_HOSTS[release(host)],
                  "SELECT ssl, version, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t|TLSv1.3|exampleapp"


def test_tls_older_than_1_3_is_refused(host, client):
    result = psql(client, DB_HOSTS[release(host)], "SELECT 1", extra="ssl_max_protocol_version=TLSv1.2")
    assert result.rc != 0
    assert "protocol version" in result.stderr or "unsupported protocol" in result.stderr, result.stderr


def test_a_certificate_for_another_name_is_not_accepted(host, client):
    result = psql(client, DB_HOSTS[release(host)], "SELECT 1", host_name="db.wrong.example")
    assert result.rc != 0
    assert "does not match host name" in result.stderr, result.stderr


def test_a_connection_without_tls_is_refused(host, client):
    result = psql(client, DB_HOSTS[release(host)], "SELECT 1", sslmode="disable")
    assert result.rc != 0
    assert "no encryption" in result.stderr, result.stderr


def test_a_wrong_password_is_refused(host, client):
    result = psql(client, DB_HOSTS[release(host)], "SELECT 1", passfile="wrong")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr, result.stderr


@pytest.mark.parametrize("user,database", [("postgres", "postgres"), ("postgres", DATABASE),
                                           (USER, "postgres"), (USER, "template1")])
def test_other_roles_and_databases_are_refused_over_the_network(host, client, user, database):
    result = psql(client, DB_HOSTS[release(host)], "SELECT 1", user=user, database=database)
    assert result.rc != 0
    assert "rejects connection" in result.stderr, result.stderr


def test_the_port_is_unreachable_from_outside_the_app_hosts(host):
    """The test machine sits on the network's gateway: UFW drops it, though the server listens."""
    with pytest.raises(OSError):
        socket.create_connection((DB_HOSTS[release(host)], 5432), timeout=3).close()
    listening = host.check_output("ss -Hltn 'sport = :5432' | awk '{print $4}'").split()
    assert sorted(listening) == sorted(
        {"127.0.0.1:5432", f"{DB_HOSTS[release(host)]}:5432"} | ({"[::1]:5432"} & set(listening)))


def test_passwords_are_stored_as_scram_verifiers(host):
    stored = superuser(host, f"SELECT rolpassword FROM pg_authid WHERE rolname = '{USER}'")
    assert stored.startswith("SCRAM-SHA-256$")
    assert superuser(host, "SHOW password_encryption") == "scram-sha-256"


def test_debian_postgresql_of_the_release(host):
    assert superuser(host, "SHOW server_version_num")[:2] == {"bookworm": "15", "trixie": "17"}[release(host)]


def test_check_mode_is_clean_on_the_converged_hosts(host):
    if release(host) != "bookworm":
        pytest.skip("one run covers every host")
    assert_check_mode_clean(CONVERGE, hosts=3)


BAD = [
    ("short password", {"db_password": "short"}, "postgresql_password has 5 characters"),
    ("schedule systemd cannot read", {"postgresql_backup_schedule": "at three"}, "postgresql_backup_schedule"),
    ("CA key in the repository", {"internal_ca_dir": os.path.join(os.path.dirname(os.path.dirname(SCENARIO)),
                                                                  "ca")}, "internal_tls_ca_dir"),
]


@pytest.mark.parametrize("extra,needle", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_fails_before_any_change(host, extra, needle):
    if release(host) != "bookworm":
        pytest.skip("one platform suffices: validation is controller-side")
    # Every host: the db play's clients are the app host's facts.
    before = host.check_output(STATE)
    result = run_playbook(CONVERGE, "-e", json.dumps(extra))
    assert result.returncode != 0, result.stdout[-2000:]
    assert needle in result.stdout, result.stdout[-2000:]
    assert set(recap_changes(result.stdout).values()) == {0}, result.stdout[-2000:]
    assert host.check_output(STATE) == before


@pytest.mark.disruptive
def test_a_backup_restores_data_destroyed_after_it(host, client):
    address = DB_HOSTS[release(host)]
    entry = f"entry-{uuid.uuid4().hex}"
    made = psql(client, address, "CREATE TABLE IF NOT EXISTS guestbook (text text); "
                                 f"INSERT INTO guestbook VALUES ('{entry}')")
    assert made.rc == 0, made.stderr
    # The timer's own unit (sandboxed, as postgres) makes the backup.
    host.check_output("systemctl start postgresql-backup.service")
    assert host.service("postgresql-backup.timer").is_enabled
    listed = host.check_output("postgresql-backup list").splitlines()
    assert listed and listed[0].endswith("exampleapp"), listed
    backup_dir = "/var/backups/postgresql/" + listed[0].split("\t")[0]
    assert host.file(backup_dir).user == "postgres" and host.file(backup_dir).mode == 0o700

    # Destroyed after the backup: the table dropped, another one made.
    assert psql(client, address, "DROP TABLE guestbook; CREATE TABLE later (x int)").rc == 0
    assert "does not exist" in psql(client, address, "SELECT text FROM guestbook").stderr

    restored = host.run("postgresql-backup restore exampleapp")
    assert restored.rc == 0, restored.stderr
    back = psql(client, address, "SELECT text FROM guestbook")
    assert entry in back.stdout.split(), back.stderr
    assert "does not exist" in psql(client, address, "SELECT x FROM later").stderr
    # Restored as the owner: the tables are the app's, and the data before it was kept.
    assert superuser(host, "SELECT tableowner FROM pg_tables WHERE tablename = 'guestbook'") == USER
    assert host.check_output("postgresql-backup list").splitlines()[0].split("\t")[0].endswith("-pre-restore")
    assert superuser(host, "SELECT count(*) FROM pg_database WHERE datname LIKE 'exampleapp_%'") == "0"


@pytest.mark.disruptive
def test_the_hook_gets_each_new_backup_for_an_off_host_copy(host):
    settings = json.loads(host.file("/etc/postgresql-backup.json").content_string)
    settings["hook"] = 'cp -r "$BACKUP_DIR" /var/backups/postgresql/offsite-copy'
    host.run("rm -rf /var/backups/postgresql/offsite-copy")
    host.check_output(f"echo '{json.dumps(settings)}' > /tmp/hook.json && chmod 644 /tmp/hook.json")
    as_postgres = "runuser -u postgres -- env BACKUP_CONFIG=/tmp/hook.json postgresql-backup run"
    # root never takes the settings from its caller's environment: no hook ran.
    host.check_output("BACKUP_CONFIG=/tmp/hook.json postgresql-backup run")
    assert not host.file("/var/backups/postgresql/offsite-copy").exists
    made = host.check_output(f"{as_postgres} --label hook-test")
    assert made.endswith("-hook-test")
    assert host.file("/var/backups/postgresql/offsite-copy/exampleapp.dump").exists
    settings["hook"] = "exit 3"
    host.check_output(f"echo '{json.dumps(settings)}' > /tmp/hook.json")
    failed = host.run(as_postgres)
    assert failed.rc != 0 and "hook (off-host copy) failed" in failed.stderr
    host.run("rm -rf /var/backups/postgresql/offsite-copy /tmp/hook.json")


@pytest.mark.disruptive
def test_a_file_the_server_has_not_read_since_it_changed_is_loaded_by_the_next_run(host):
    """As after a run that stopped between writing pg_hba.conf and its reload."""
    if release(host) != "bookworm":
        pytest.skip("one run covers every host")
    loaded = superuser(host, "SELECT pg_conf_load_time()")
    host.check_output("touch /etc/postgresql/15/main/pg_hba.conf")
    result = run_playbook(CONVERGE)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Reload for files changed since the server last read them" in changed_tasks(result.stdout)
    assert superuser(host, "SELECT pg_conf_load_time()") != loaded
