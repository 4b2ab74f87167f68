"""Helpers for the molecule scenarios' testinfra tests: playbook runs, logins,
requests and scanners, all from the controller as a user would act.

Imported by name (`from testlib import ...`): pytest.ini puts molecule/ on
sys.path. Fixtures and pytest hooks live in molecule/conftest.py.
"""

import http.client
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import tempfile
import time
from http.cookies import SimpleCookie


def run_playbook(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a playbook against molecule's inventory; stdout holds stderr too."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], *extra, playbook],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
        check=False, env=env, cwd=os.environ.get("MOLECULE_PROJECT_DIRECTORY"),
    )


def failure_message(output: str) -> list[str]:
    """The lines of the msg of the run's last failure, what the run ends on (a failed step inside a
    block is printed first, then its rescue's message). The result is JSON on one line (molecule's
    configuration) or YAML with msg as an indented block under `msg: |-` (this project's ansible.cfg)."""
    last = output[output.rindex("FAILED! =>") + len("FAILED! =>"):].lstrip(" ")
    if last.startswith("{"):
        return json.JSONDecoder().raw_decode(last)[0]["msg"].splitlines()
    match = re.search(r"^( +)msg: [|>]-?\n((?:\1 +.*\n|\n)+)", last, re.M) \
        or re.search(r"^ +msg: (.*)$", last, re.M)
    assert match, last[:3000]
    return [line.strip() for line in match.groups()[-1].splitlines()]


def run_playbook_check(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a scenario playbook with --check --diff against molecule's inventory."""
    return run_playbook(playbook, "--check", "--diff", *extra)


def recap_changes(output: str) -> dict[str, int]:
    """Map host -> changed count from an ansible-playbook PLAY RECAP."""
    return {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)
    }


def ephemeral(name: str) -> str:
    """Path of a file in the scenario's ephemeral directory (test keys)."""
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], name)


def ssh(port: int, user: str, key: str | None, command: str = "true", *options: str,
        timeout: int = 20, address: str = "127.0.0.1", stdin: str | None = None) -> subprocess.CompletedProcess:
    """Log in from the controller to address:port (a published port by default) as a user would;
    stdin is what the remote command reads (a password for sudo -S, say)."""
    args = [
        "ssh", "-F", "/dev/null", "-p", str(port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
        "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
    ]
    if key:
        args += ["-i", key]
    args += [*options, f"{user}@{address}", command]
    return retry_penalised(lambda: subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, input=stdin))


def password_login(port: int, user: str, password: str, address: str = "127.0.0.1") -> subprocess.CompletedProcess:
    """Log in with a password (no key), as a person at a keyboard would; the
    password reaches ssh through SSH_ASKPASS, never a command line."""
    with tempfile.TemporaryDirectory() as work:
        askpass = os.path.join(work, "askpass")
        with open(os.open(askpass, os.O_WRONLY | os.O_CREAT, 0o700), "w", encoding="utf-8") as handle:
            handle.write(f"#!/bin/sh\ncat {shlex.quote(os.path.join(work, 'password'))}\n")
        with open(os.open(os.path.join(work, "password"), os.O_WRONLY | os.O_CREAT, 0o600), "w",
                  encoding="utf-8") as handle:
            handle.write(password + "\n")
        env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        args = ["ssh", "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
                "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
                "-o", "PreferredAuthentications=password,keyboard-interactive", f"{user}@{address}", "true"]
        return retry_penalised(lambda: subprocess.run(
            args, capture_output=True, text=True, timeout=30, check=False, env=env, stdin=subprocess.DEVNULL))


def controller_source(host, port: int) -> str:
    """The address the host sees the controller's connections to the published SSH port come from
    (read inside the host during a connection, not assumed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-")
        table = host.check_output("ss -Htn state established '( sport = :22 )'")
    peers = {line.split()[-1].rsplit(":", 1)[0].strip("[]") for line in table.splitlines() if line.strip()}
    assert len(peers) == 1, table
    # A dual-stack socket (ssh.socket listens on [::]:22) shows an IPv4 peer as
    # ::ffff:A.B.C.D; sshd and UFW see the plain IPv4 address.
    return peers.pop().removeprefix("::ffff:")


# OpenSSH 9.8+ (Debian 13) penalises a source address that keeps failing to
# authenticate (PerSourcePenalties): for a while its new connections are
# refused ("Not allowed at this time"). All test traffic comes from one
# address and several tests fail logins on purpose, so a refusal of that kind
# is waited out rather than taken as the answer to the test's question. Where
# UFW guards SSH, its `limit` rule rejects a source's further connections for
# 30 s after six, which the client sees as refused (or, dropped on the way, a
# timeout): waited out the same way. No test asks ssh() for a refused port.
# UFW's limit records every new connection to the SSH port, and a refused one
# twice (its --set and --update rules both add a timestamp); six within 30 s
# mean refusal. Retrying every 10 s therefore keeps a source locked out for
# good (3 x 2 + 1 >= 6): retries wait 20 s, so at most one earlier retry is
# in the window and the earlier burst ages out.
LIMIT_PAUSE = 20.0
PENALISED = ("Not allowed at this time", "Connection reset by peer", "did not receive banner",
             "kex_exchange_identification", "Connection refused", "Connection timed out",
             "timed out during banner exchange")


def retry_penalised(attempt, tries: int = 5, pause: float = LIMIT_PAUSE):
    """Run attempt() until its output shows no source penalty (bounded)."""
    for _ in range(tries - 1):
        result = attempt()
        if not any(marker in result.stdout + result.stderr for marker in PENALISED):
            return result
        time.sleep(pause)
    return attempt()


def assert_check_mode_clean(playbook: str, hosts: int) -> None:
    """--check --diff of a converged scenario reports no change on any host."""
    result = run_playbook_check(playbook)
    assert result.returncode == 0, result.stdout[-3000:]
    changes = recap_changes(result.stdout)
    assert len(changes) == hosts and set(changes.values()) == {0}, changed_tasks(result.stdout)


def changed_tasks(output: str) -> str:
    """The TASK headers and diffs of the tasks that reported a change, and the recap."""
    blocks = re.split(r"(?m)^(?=TASK \[|PLAY RECAP)", output)
    return "\n".join(block[:1500] for block in blocks if re.search(r"(?m)^changed: ", block)
                     or block.startswith("PLAY RECAP"))


def assert_fails_before_any_change(host, playbook: str, extra: dict, needle: str, state: str) -> None:
    """Applying playbook with bad extra vars fails, names needle, and leaves state as it was."""
    before = host.check_output(state)
    result = run_playbook(playbook, "--limit", host.backend.get_hostname(), "-e", json.dumps(extra))
    assert result.returncode != 0, result.stdout[-2000:]
    assert needle in result.stdout, result.stdout[-2000:]
    assert "changed=0" in result.stdout, result.stdout[-2000:]
    assert host.check_output(state) == before


def fetch_pebble_root(host) -> str:
    """Pebble's current root CA as PEM (it makes a new one whenever it starts)."""
    return host.check_output(
        "python3 -c \"import ssl, urllib.request; print(urllib.request.urlopen("
        "'https://127.0.0.1:15000/roots/0', context=ssl.create_default_context("
        "cafile='/etc/pebble/ca.pem')).read().decode())\"") + "\n"


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """A client context verifying against cafile, or verifying nothing when cafile is None."""
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def https_request(port: int, sni: str, path: str = "/", method: str = "GET", headers: dict | None = None,
                  body: str | None = None, cafile: str | None = None) -> http.client.HTTPResponse:
    """One HTTPS request to 127.0.0.1:port as a browser for `sni` makes it; .body holds the answer."""
    context = tls_context(cafile)
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                          server_hostname=sni)
    return _send(connection, method, path, body, {"Host": sni, **(headers or {})})


def http_request(port: int, host_header: str, path: str = "/", method: str = "GET", headers: dict | None = None,
                 body: str | None = None) -> http.client.HTTPResponse:
    """One plain HTTP request to 127.0.0.1:port for the site `host_header`; .body holds the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    return _send(connection, method, path, body, {"Host": host_header, **(headers or {})})


def _send(connection, method, path, body, headers) -> http.client.HTTPResponse:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def response_cookies(response) -> dict:
    """The cookies a response sets, by name (http.cookies morsels: .value, ["secure"], ...)."""
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return dict(jar.items())


# ssh-audit's built-in hardening policy for each Debian release the roles support.
SSH_AUDIT_POLICIES = {"12": "Hardened Debian 12 (version 3)", "13": "Hardened Debian 13 (version 1)"}


def assert_mozilla_intermediate(port: int, sni: str, cafile: str) -> None:
    """sslyze finds 127.0.0.1:port compliant with Mozilla's intermediate profile, chain trusted."""
    result = subprocess.run(
        ["sslyze", "--mozilla_config=intermediate", f"--certinfo_ca_file={cafile}",
         f"127.0.0.1:{port}", "--sni", sni],
        capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    # sslyze exits 0 even when it reached nothing: prove the scan happened.
    assert f"SCAN RESULTS FOR 127.0.0.1:{port}" in output, output[-3000:]
    assert f"Hostname sent for SNI:             {sni}" in output, output[-3000:]
    assert re.search(r"Supplied CA file CA Store.*OK - Certificate is trusted", output), output[-3000:]
    assert f"127.0.0.1:{port}: OK - Compliant." in output, output[-3000:]
    assert result.returncode == 0, output[-3000:]


def broken_migration(after: str) -> str:
    """A migration file of the example app's guestbook that fails when it runs, after migration AFTER."""
    return f'''from django.db import migrations


def explode(apps, schema_editor):
    raise RuntimeError("this migration fails on purpose")


class Migration(migrations.Migration):
    dependencies = [("guestbook", "{after}")]
    operations = [migrations.RunPython(explode)]
'''
