"""What code that gets into the app can and cannot do: it writes its data,
uploads and logs, never its home, its code or the static files browsers run;
and a start-up file it plants does not run in the operator's next
`exampleapp-manage shell`, which runs in the service's own sandbox."""

import shlex

from helpers import APP, BASE, MANAGE, SERVICE

DATA = f"/var/lib/{APP}"
STATUS = ("NoNewPrivs", "CapBnd", "Seccomp")


def as_app(host, command: str):
    return host.run(f"runuser -u {APP} -- sh -c {shlex.quote(command)}")


def test_the_app_cannot_write_its_home_code_or_static_files(host):
    assert host.user(APP).home == BASE
    assert as_app(host, f"touch {DATA}/probe && rm {DATA}/probe").rc == 0  # it does write its data
    static_file = host.check_output(f"find {BASE}/static -type f -name '*.css' | head -n 1")
    for target in (f"{BASE}/x", f"{BASE}/current/x", f"{BASE}/current/venv/lib/x", f"{BASE}/static/x",
                   static_file):
        assert as_app(host, f"touch {target}").rc != 0, target
    collected = host.file(static_file)
    assert (collected.user, collected.mode & 0o022) == (f"{APP}-build", 0)


def proc_status(output: str) -> dict:
    return {line.split(":")[0]: line.split(":", 1)[1].strip() for line in output.splitlines()
            if line.split(":")[0] in STATUS}


def test_manage_runs_commands_in_the_services_sandbox(host):
    pid = host.check_output(f"systemctl show -p MainPID --value {SERVICE}")
    service = proc_status(host.check_output(f"cat /proc/{pid}/status"))
    script = ("import os; print(open('/proc/self/status').read()); print('HOME=' + os.environ['HOME']); "
              f"print('writable' if os.access('{BASE}/current', os.W_OK) else 'read-only')")
    result = host.run(f"{MANAGE} shell -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    assert proc_status(result.stdout) == service and service["NoNewPrivs"] == "1", (result.stdout, service)
    assert "read-only" in result.stdout and f"HOME={BASE}\n" in result.stdout
    write = f"open('{BASE}/current/x', 'w')"
    denied = host.run(f"{MANAGE} shell -c {shlex.quote(write)}")
    assert denied.rc != 0 and ("Read-only file system" in denied.stderr or "Permission denied" in denied.stderr)


# An operator at a terminal: only an interactive shell reads start-up files, so the
# shell gets a pseudo-terminal and is answered prompt by prompt.
INTERACTIVE = f"""
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["PYTHONSTARTUP"] = "{DATA}/.pythonrc.py"
    os.execv("{MANAGE}", ["{MANAGE}", "shell", "-i", "python"])
seen = b""
def until(marker, timeout=60):
    global seen
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
until(b">>> ")
os.write(fd, b"print(6 * 7)\\r")
until(b"42")
os.write(fd, b"exit()\\r")
until(b"never", timeout=5)
os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
"""


def test_a_planted_start_up_file_does_not_run_in_the_operators_shell(host):
    """The app can write its data directory (its home before): a .pythonrc.py there, also
    named by the operator's PYTHONSTARTUP, must not run in an interactive shell."""
    planted = f"open('{DATA}/pwned', 'w').write('ran')\n"
    assert as_app(host, f"printf %s {shlex.quote(planted)} > {DATA}/.pythonrc.py").rc == 0
    try:
        session = host.run(f"timeout 120 python3 -c {shlex.quote(INTERACTIVE)}")
        assert "42" in session.stdout, session.stdout + session.stderr
        assert not host.file(f"{DATA}/pwned").exists
    finally:
        host.run(f"rm -f {DATA}/.pythonrc.py {DATA}/pwned")
