"""The test bed's container work, shared by bin/sandbox and bin/bench.

A test host is a systemd container from the local image (testbed/build-image.sh)
that the project's podman settings (testbed/env.sh, testbed/containers.conf)
run, with its ports published on 127.0.0.1 only. site.yml reaches it over SSH
like a real server. This module starts and removes such hosts, waits for their
SSH, makes the operator's key, logs in as a user and runs ansible-playbook.

Set-up (apt packages, the .venv, the images) stays in bin/lib.sh, which bin/test
sources too: setup() runs it through bash.

Standard library only. The module also runs inside a test host, fed to the
host's python3 on stdin (run_in_host): `python3 - get URL` fetches a URL
there, where loopback-only services (Pebble's management API, a gunicorn on
127.0.0.1) answer.
"""

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Inside a test host this module is read from stdin (__file__ is "<stdin>"): no ROOT there.
_SOURCE = Path(__file__).resolve()
ROOT = _SOURCE.parents[1] if _SOURCE.is_file() else None
VENV = ROOT / ".venv" if ROOT else None
# The variables testbed/env.sh exports for this project's podman calls.
TESTBED_VARS = ("CONTAINERS_CONF", "TESTBED_IMAGE_REPO")
# podman's default nofile (1048576) is above the machine's hard limit; the same
# values as testbed/containers.conf, given on the command line too.
ULIMITS = ("nofile=1024:1024", "nproc=1024:1024")
# UFW's `limit` on the SSH port refuses a 6th new connection from one address
# within 30 s: waiting this long empties the window. Within one window a host
# admits at most this many new connections from one address.
UFW_LIMIT_WINDOW = 31
UFW_LIMIT_ALLOWED = 5


# ---------------------------------------------------------------- messages

def step(message):
    """A progress line, as bin/lib.sh's step() prints it."""
    print(f"==> {message}", flush=True)


def die(message):
    """Stop the program with an error message (raises SystemExit)."""
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def require_root(program):
    """Stop unless running as root, saying how to run PROGRAM."""
    if os.geteuid() != 0:
        die("this needs root (it installs packages and runs systemd containers with podman).\n"
            f"Run it as root, e.g.:  sudo {program}")


# ---------------------------------------------------------------- environment

def parse_nul_env(data):
    """NAME=VALUE entries separated by NUL bytes, as a dict."""
    entries = (item.partition("=") for item in data.decode().split("\0") if item)
    return {name: value for name, _, value in entries}


def testbed_env():
    """What testbed/env.sh exports (CONTAINERS_CONF, TESTBED_IMAGE_REPO), read through bash."""
    script = '. "$1" && shift && for v in "$@"; do printf "%s=%s\\0" "$v" "${!v}"; done'
    out = subprocess.run(["bash", "-c", script, "env.sh", str(ROOT / "testbed" / "env.sh"), *TESTBED_VARS],
                         capture_output=True, check=True).stdout
    return parse_nul_env(out)


def activate():
    """This process and its children: the project's podman settings and the .venv's tools, in ROOT."""
    os.environ.update(testbed_env())
    venv_bin = str(VENV / "bin")
    if not os.environ.get("PATH", "").startswith(venv_bin + os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    os.environ["VIRTUAL_ENV"] = str(VENV)
    os.chdir(ROOT)


def setup_command(program, suites):
    """The bash command that runs bin/lib.sh's setup_all (packages, .venv, images of SUITES)."""
    script = '. "$1/bin/lib.sh" && shift && setup_all "$@"'
    return ["bash", "-c", script, program, str(ROOT), *suites]


def setup(program, *suites):
    """Everything a command needs (bin/lib.sh's setup_all), then activate() it here."""
    if subprocess.run(setup_command(program, suites), check=False).returncode != 0:
        raise SystemExit(1)  # lib.sh has said why
    activate()


def image(suite):
    """The local test-host image of a Debian suite."""
    return f"{os.environ.get('TESTBED_IMAGE_REPO') or testbed_env()['TESTBED_IMAGE_REPO']}:{suite}"


# ---------------------------------------------------------------- podman

def podman(*args, check=True, capture=False, **kwargs):
    """Run podman with the project's settings; capture=True returns stdout as text."""
    if "CONTAINERS_CONF" not in os.environ:
        os.environ.update(testbed_env())
    if capture:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("text", True)
    return subprocess.run(["podman", *args], check=check, **kwargs)


def podman_out(*args):
    """podman's standard output, stripped; failures raise."""
    return podman(*args, capture=True).stdout.strip()


def container_exists(name):
    return podman("container", "exists", name, check=False).returncode == 0


def container_running(name):
    result = podman("container", "inspect", "-f", "{{.State.Running}}", name, check=False, capture=True,
                    stderr=subprocess.DEVNULL)
    return result.returncode == 0 and result.stdout.strip() == "true"


def remove_containers(*names):
    """Remove the named containers that exist (only these, by name)."""
    for name in names:
        if container_exists(name):
            podman("rm", "--force", "--time", "5", name, stdout=subprocess.DEVNULL)


def publish_args(ports):
    """--publish options for (host port, container port) pairs, on 127.0.0.1 only."""
    return [arg for host, container in ports for arg in ("--publish", f"127.0.0.1:{host}:{container}")]


def port_spec(ports):
    """Ports as text: '2222:22 8080:80'."""
    return " ".join(f"{host}:{container}" for host, container in ports)


def run_args(name, image_name, ports=(), hostname=None):
    """podman's arguments for a detached systemd test host."""
    ulimits = [arg for limit in ULIMITS for arg in ("--ulimit", limit)]
    return ["run", "--detach", "--name", name, "--hostname", hostname or name, "--privileged",
            "--systemd", "always", *ulimits, *publish_args(ports), image_name]


def create_host(name, image_name, ports=(), hostname=None):
    """Start a new systemd test host from IMAGE_NAME (the caller checks the ports are free)."""
    podman(*run_args(name, image_name, ports, hostname), stdout=subprocess.DEVNULL)


AUTHORIZE = ("install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys"
             " && chmod 600 /root/.ssh/authorized_keys")


def authorize_root(name, public_key):
    """What a cloud provider does for a new server: root's authorized_keys holds the operator's key."""
    with open(public_key, "rb") as key:
        podman("exec", "-i", name, "sh", "-c", AUTHORIZE, stdin=key)


def run_in_host(name, *args, **kwargs):
    """Run this module inside a host (its python3 reads it from stdin): e.g. `get URL`."""
    kwargs.setdefault("check", False)
    return podman("exec", "-i", name, "python3", "-", *args, input=_SOURCE.read_text(),
                  capture=True, stderr=subprocess.PIPE, **kwargs)


# ---------------------------------------------------------------- ports and SSH

def port_in_use(port):
    """Whether something answers on 127.0.0.1:PORT."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def busy_ports(ports, in_use=port_in_use):
    """The host ports of (host, container) pairs that are already taken."""
    return [host for host, _ in ports if in_use(host)]


def make_key(path, comment):
    """The operator's throwaway ed25519 key at PATH (and PATH.pub), made once."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True)


def keyscan_command(port):
    """One probe, one connection: only the ed25519 host key (a plain ssh-keyscan opens one per key type)."""
    return ["ssh-keyscan", "-t", "ed25519", "-p", str(port), "127.0.0.1"]


def ssh_answers(port):
    result = subprocess.run(keyscan_command(port), capture_output=True, text=True, check=False)
    return "ssh-ed25519" in result.stdout


def wait_for_ssh(port, tries=60, probe=ssh_answers, sleep=time.sleep):
    """Whether SSH on 127.0.0.1:PORT answered within TRIES probes, one a second.

    One connection per probe: UFW's `limit` refuses a sixth new SSH connection
    from one address within 30 s.
    """
    for _ in range(tries):
        if probe(port):
            return True
        sleep(1)
    return False


def ssh_command(user, port, key, known_hosts, command="true"):
    """ssh as USER to 127.0.0.1:PORT with the operator's key and a project-local known_hosts."""
    return ["ssh", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new",
            f"{user}@127.0.0.1", command]


def ssh_ok(user, port, key, known_hosts):
    """Whether USER can log in (one connection)."""
    return subprocess.run(ssh_command(user, port, key, known_hosts), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


# ---------------------------------------------------------------- Ansible

def ansible_playbook(*args, log=None, wrapper=(), env=None, cwd=None):
    """Run ansible-playbook in CWD (ROOT unless given: its ansible.cfg applies) with output to
    LOG, a path, if given; its exit code."""
    command = [*wrapper, "ansible-playbook", *args]
    env = None if env is None else {**os.environ, **env}
    cwd = ROOT if cwd is None else cwd
    if log is None:
        return subprocess.run(command, cwd=cwd, env=env, check=False).returncode
    with open(log, "w") as out:
        return subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              check=False).returncode


def podman_playbook_args(hosts, playbook):
    """ansible-playbook's arguments for PLAYBOOK run on containers through podman, not SSH."""
    return ["-i", "".join(f"{host}," for host in hosts), "-c", "containers.podman.podman", str(playbook)]


def host_vars(host, inventory=None):
    """A host's variables as ansible-inventory resolves them; {} when it cannot."""
    command = ["ansible-inventory", *(["-i", str(inventory)] if inventory else []), "--host", host]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {}
    return json.loads(result.stdout)


# ---------------------------------------------------------------- inside a host

def http_get(url, cafile=None, headers=(), timeout=5):
    """The body of URL (an HTTP error raises); HEADERS are 'Name: value' strings."""
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    request = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return response.read().decode()


def main(argv=None):
    """The part that runs inside a test host: `get URL [--cafile F] [--header 'Name: value']...`."""
    parser = argparse.ArgumentParser(prog="hostlib")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("get", help="print the body of URL")
    get.add_argument("url")
    get.add_argument("--cafile")
    get.add_argument("--header", action="append", default=[])
    get.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(http_get(args.url, args.cafile, args.header, args.timeout))
    except OSError as error:
        print(f"{args.url}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
