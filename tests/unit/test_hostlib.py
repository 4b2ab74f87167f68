"""bin/hostlib.py, the test bed's container work, and the two programs built on it.

Only the parts that need no container: command lines, argument parsing, port
lists, the inventory and the parsing of what the machine reports.
"""

import http.server
import importlib.machinery
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bin"))

import hostlib  # noqa: E402


def program(name):
    """bin/NAME (a Python program without .py) as a module."""
    loader = importlib.machinery.SourceFileLoader(f"program_{name}", str(ROOT / "bin" / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


sandbox = program("sandbox")
bench = program("bench")


# ---------------------------------------------------------------- hostlib

def test_testbed_env_is_what_env_sh_exports(monkeypatch):
    monkeypatch.delenv("TESTBED_IMAGE_REPO", raising=False)
    assert hostlib.testbed_env() == {"CONTAINERS_CONF": str(ROOT / "testbed" / "containers.conf"),
                                     "TESTBED_IMAGE_REPO": "localhost/hardening-testbed"}
    monkeypatch.setenv("TESTBED_IMAGE_REPO", "localhost/other")
    assert hostlib.testbed_env()["TESTBED_IMAGE_REPO"] == "localhost/other"


def test_nul_separated_environment_keeps_equals_signs_in_values():
    assert hostlib.parse_nul_env(b"A=1\0B=x=y\0") == {"A": "1", "B": "x=y"}


def test_setup_runs_lib_sh_setup_all_for_the_suites():
    command = hostlib.setup_command("bin/sandbox", ["bookworm"])
    assert command[:2] == ["bash", "-c"] and "setup_all" in command[2] and "bin/lib.sh" in command[2]
    # $0 names the program in lib.sh's messages (require_root: "sudo bin/sandbox").
    assert command[3:] == ["bin/sandbox", str(ROOT), "bookworm"]


def test_a_test_host_publishes_on_loopback_only_with_the_modest_ulimits():
    args = hostlib.run_args("h", "img:bookworm", ((2222, 22), (8080, 80)), hostname="sandbox")
    assert args[:3] == ["run", "--detach", "--name"] and args[-1] == "img:bookworm"
    assert ["--hostname", "sandbox"] == args[args.index("--hostname"):args.index("--hostname") + 2]
    assert {"--privileged", "--systemd", "always"} <= set(args)
    published = [args[i + 1] for i, arg in enumerate(args) if arg == "--publish"]
    assert published == ["127.0.0.1:2222:22", "127.0.0.1:8080:80"]
    ulimits = [args[i + 1] for i, arg in enumerate(args) if arg == "--ulimit"]
    conf = tomllib.loads((ROOT / "testbed" / "containers.conf").read_text())
    assert ulimits == conf["containers"]["default_ulimits"]
    floor = hostlib.run_args("bench-floor", "img")
    assert floor[floor.index("--hostname") + 1] == "bench-floor" and "--publish" not in floor


def test_port_spec_and_busy_ports():
    ports = ((2222, 22), (8080, 80), (8443, 443))
    assert hostlib.port_spec(ports) == "2222:22 8080:80 8443:443"
    assert hostlib.busy_ports(ports, in_use=lambda port: port == 8080) == [8080]
    assert hostlib.busy_ports(ports, in_use=lambda port: False) == []


def test_port_in_use_sees_a_listener_on_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert hostlib.port_in_use(port)
    assert not hostlib.port_in_use(port)


def test_ssh_probe_is_one_connection_for_one_key_type():
    assert hostlib.keyscan_command(30022) == ["ssh-keyscan", "-t", "ed25519", "-p", "30022", "127.0.0.1"]


def test_wait_for_ssh_probes_once_a_second_until_it_answers():
    probes, sleeps = [], []
    answers = iter([False, False, True])
    assert hostlib.wait_for_ssh(2222, tries=5, probe=lambda port: probes.append(port) or next(answers),
                                sleep=sleeps.append)
    assert probes == [2222, 2222, 2222] and sleeps == [1, 1]
    probes.clear()
    assert not hostlib.wait_for_ssh(2222, tries=4, probe=lambda port: probes.append(port) or False,
                                    sleep=lambda s: None)
    assert len(probes) == 4


def test_ssh_as_a_user_uses_the_project_key_and_known_hosts():
    command = hostlib.ssh_command("deploy", 2222, "/k/id", "/k/known_hosts")
    assert command[0] == "ssh" and command[-2:] == ["deploy@127.0.0.1", "true"]
    assert ["-p", "2222", "-i", "/k/id"] == command[1:5]
    assert "BatchMode=yes" in command and "UserKnownHostsFile=/k/known_hosts" in command
    assert "StrictHostKeyChecking=accept-new" in command


def test_podman_playbook_arguments_list_the_containers():
    assert hostlib.podman_playbook_args(["bench-host", "bench-floor"], "testbed/pebble.yml") == [
        "-i", "bench-host,bench-floor,", "-c", "containers.podman.podman", "testbed/pebble.yml"]


@pytest.fixture
def web():
    """A loopback HTTP server answering / with the request's Host and X-Forwarded-Proto, 404 elsewhere."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path != "/":
                self.send_error(404)
                return
            body = f"{self.headers['Host']} {self.headers['X-Forwarded-Proto']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_inside_a_host_runs_from_stdin_with_headers(web):
    """As run_in_host runs it: the module's source on python3's stdin, no file, no ROOT."""
    source = (ROOT / "bin" / "hostlib.py").read_text()
    ok = subprocess.run([sys.executable, "-", "get", f"{web}/", "--header", "Host: example.test",
                         "--header", "X-Forwarded-Proto: https"], input=source, capture_output=True, text=True,
                        timeout=30, check=False, cwd="/")
    assert (ok.returncode, ok.stdout) == (0, "example.test https"), ok.stderr
    missing = subprocess.run([sys.executable, "-", "get", f"{web}/nothing"], input=source, capture_output=True,
                             text=True, timeout=30, check=False, cwd="/")
    assert missing.returncode == 1 and "404" in missing.stderr


# ---------------------------------------------------------------- bin/sandbox

@pytest.mark.parametrize("argv,parsed", [
    (["up"], ("up", [])),
    (["up", "--tags", "ssh", "-v"], ("up", ["--tags", "ssh", "-v"])),
    (["down"], ("down", [])),
    (["status"], ("status", [])),
    ([], None),
    (["start"], None),
    (["down", "--project", "x"], None),
    (["up", "--project"], None),
    (["up", "--project", "/p/mysite", "--tags", "app"],
     ("up", ["-e", '{"app_source_path": "/p/mysite"}', "--tags", "app"])),
])
def test_sandbox_command_line(argv, parsed):
    assert sandbox.parse_args(argv, environ={}) == parsed


def test_sandbox_project_from_the_environment_and_checked(tmp_path):
    """SANDBOX_PROJECT as --project; a directory without manage.py is refused before anything starts."""
    parsed = sandbox.parse_args(["up"], environ={"SANDBOX_PROJECT": str(tmp_path)})
    assert parsed == ("up", ["-e", json.dumps({"app_source_path": str(tmp_path)})])
    assert "no manage.py" in sandbox.project_problem(parsed[1])
    (tmp_path / "manage.py").write_text("")
    assert sandbox.project_problem(parsed[1]) is None


def test_sandbox_usage_error_exits_2(capsys):
    assert sandbox.main(["bogus"]) == 2
    assert "usage: bin/sandbox up [--project DIR]" in capsys.readouterr().err


def test_sandbox_ports_and_bootstrap_choice(monkeypatch, capsys):
    assert hostlib.publish_args(sandbox.PORTS) == ["--publish", "127.0.0.1:2222:22", "--publish",
                                                   "127.0.0.1:8080:80", "--publish", "127.0.0.1:8443:443"]
    monkeypatch.setattr(hostlib, "ssh_ok", lambda user, *rest: user == "deploy")
    assert sandbox.login_args("deploy") == []
    assert "running site.yml as deploy" in capsys.readouterr().out
    monkeypatch.setattr(hostlib, "ssh_ok", lambda *args: False)
    assert sandbox.login_args("deploy") == ["-e", "bootstrap_user=root"]
    assert sandbox.login_args("") == ["-e", "bootstrap_user=root"]
    assert "the admin user cannot log in yet" in capsys.readouterr().out


# ---------------------------------------------------------------- bin/bench

@pytest.mark.parametrize("argv,parts,keep", [
    ([], (), False),
    (["all"], ("converge", "rerun", "fleet", "served"), False),
    (["--keep", "rerun", "profile"], ("rerun", "profile"), True),
    (["all", "mitogen", "rerun"], ("converge", "rerun", "fleet", "served", "mitogen"), False),
    (["baseline"], ("baseline",), False),
    (["all", "baseline"], ("converge", "rerun", "fleet", "served", "baseline"), False),
])
def test_bench_command_line(argv, parts, keep):
    assert bench.parse_args(argv) == bench.Args(keep=keep, parts=parts)


def test_bench_clean_and_usage_errors(capsys):
    assert bench.parse_args(["clean"]).clean
    assert bench.parse_args(["rerun", "bogus"]) is None
    assert bench.main(["bogus"]) == 2
    assert "usage: bin/bench" in capsys.readouterr().err


def test_bench_settings_and_ports():
    default = bench.Settings.from_env({"BENCH_DURATION": ""})
    assert default == bench.Settings("bookworm", 10, 10, "30", "651432e")
    assert default.baseline_port == 30522
    assert bench.Settings.from_env({"BENCH_BASELINE": "v1.0", "BENCH_PORT_PREFIX": "31"}).baseline_port == 31522
    assert bench.Settings.from_env({"BENCH_BASELINE": "v1.0"}).baseline == "v1.0"
    assert default.host_ports == ((30022, 22), (30080, 80), (30443, 443))
    assert [default.clone_port(n) for n in (1, 2, 3)] == [30122, 30222, 30322]
    other = bench.Settings.from_env({"BENCH_SUITE": "trixie", "BENCH_DURATION": "3", "BENCH_CONNECTIONS": "4",
                                     "BENCH_PORT_PREFIX": "31"})
    assert (other.suite, other.duration, other.connections, other.ssh_port) == ("trixie", 3, 4, 31022)


def test_bench_inventory_puts_every_host_in_web_and_app():
    inventory = yaml.safe_load(bench.inventory_yaml([("bench-host", 30022), ("bench-f2", 30122)]))
    assert inventory["all"]["hosts"]["bench-f2"] == {"ansible_host": "127.0.0.1", "ansible_port": 30122,
                                                     "sandbox_dir": "{{ inventory_dir }}/.."}
    assert list(inventory["web"]["hosts"]) == list(inventory["app"]["hosts"]) == ["bench-host", "bench-f2"]


def test_bench_fleet_inventory_has_one_db_host_and_its_values_outside_the_checkout(tmp_path, monkeypatch):
    hosts = [("bench-host", 30022), ("bench-f2", 30122), ("bench-f4", 30322)]
    inventory = yaml.safe_load(bench.inventory_yaml(hosts, db="bench-f4"))
    assert list(inventory["web"]["hosts"]) == list(inventory["app"]["hosts"]) == ["bench-host", "bench-f2"]
    assert list(inventory["db"]["hosts"]) == ["bench-f4"]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    bench.write_inventory(tmp_path / "fleet", hosts, db="bench-f4")
    written = tmp_path / "fleet" / "group_vars" / "all" / "fleet.yml"
    values = yaml.safe_load(written.read_text())
    assert len(values["db_password"]) >= 32 and written.stat().st_mode & 0o777 == 0o600
    assert values["internal_ca_dir"].startswith(str(tmp_path / "home"))
    # The sandbox's shared values are still read (linked), beside the fleet's.
    assert (tmp_path / "fleet" / "group_vars" / "all" / "main.yml").resolve() == (
        bench.ROOT / "inventories" / "sandbox" / "group_vars" / "all" / "main.yml")
    # Written again without a db host: the plain link to the sandbox's group_vars.
    bench.write_inventory(tmp_path / "fleet", hosts)
    assert (tmp_path / "fleet" / "group_vars").is_symlink()


def test_cpu_busy_from_proc_stat():
    before = bench.parse_cpu_jiffies("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    assert before == (200, 1000)  # idle and iowait are not busy
    after = bench.parse_cpu_jiffies("cpu  250 0 150 800 100 0 0 0 0 0\n")
    assert bench.cpu_busy(before, after) == "67"
    assert bench.cpu_busy(before, before) == "0"


def test_wrk_command():
    assert bench.wrk_command(10, 2, "http://127.0.0.1:18001/", ("Host: a.test",)) == [
        "wrk", "-d2s", "-t2", "-c10", "--latency", "-H", "Host: a.test", "http://127.0.0.1:18001/"]


def test_profile_run_is_judged_by_its_recap():
    assert bench.recap_clean({"ok": 60, "changed": 0, "unreachable": 0, "failed": 0})
    assert not bench.recap_clean({"ok": 3, "changed": 0, "unreachable": 0, "failed": 1})
    assert not bench.recap_clean({"ok": 0, "changed": 0, "unreachable": 1, "failed": 0})
    assert not bench.recap_clean(None)


def test_tls_client_arguments_are_what_the_script_accepts():
    args = bench.tls_handshakes.arguments("sandbox.test", "/static/x.css", 10, "reuse", "1.2", procs=2)
    parsed = bench.tls_handshakes.build_parser().parse_args(args)
    assert (parsed.host, parsed.port, parsed.sni, parsed.path) == ("127.0.0.1", 443, "sandbox.test", "/static/x.css")
    assert (parsed.seconds, parsed.mode, parsed.tls, parsed.procs) == (10, "reuse", "1.2", 2)


def test_baseline_reruns_alternate_baseline_first():
    assert bench.alternation(3) == [("baseline", 1), ("current", 1), ("baseline", 2), ("current", 2),
                                    ("baseline", 3), ("current", 3)]


def test_ufw_wait_only_when_the_window_could_hold_too_many_logins():
    # Two runs of 2 logins each fit in ufw's allowance of 5 per window: no wait.
    assert bench.ufw_wait(since_last=3, last_logins=2, next_logins=2) == 0
    # 3 + 3 would be a 6th connection within the window: wait out what is left of it.
    assert bench.ufw_wait(since_last=20, last_logins=3, next_logins=3) == 11
    assert bench.ufw_wait(since_last=40, last_logins=3, next_logins=3) == 0
    # Unknown counts (after a converge, or before the host's first re-run): the window is waited out.
    assert bench.ufw_wait(since_last=0, last_logins=None, next_logins=2) == hostlib.UFW_LIMIT_WINDOW
    assert bench.ufw_wait(since_last=5, last_logins=2, next_logins=None) == hostlib.UFW_LIMIT_WINDOW - 5


def test_logins_are_counted_from_the_journal():
    journal = ("Accepted publickey for deploy from 10.88.0.1 port 5 ssh2: ED25519 SHA256:x\n"
               "pam_unix(sshd:session): session opened\n"
               "Accepted publickey for deploy from 10.88.0.1 port 6 ssh2: ED25519 SHA256:x\n")
    assert bench.count_logins(journal) == 2
    assert bench.count_logins("") == 0


def test_the_baseline_tree_is_exported_below_bench_and_removed(tmp_path, monkeypatch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    monkeypatch.setattr(bench, "BENCH", tmp_path)
    target = tmp_path / "baseline"
    bench.export_tree(head, target)
    assert (target / "site.yml").is_file() and (target / "ansible.cfg").is_file()
    assert not (target / ".git").exists()
    bench.remove_tree(target)
    assert not target.exists()
    # Never anything outside .bench/.
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    bench.remove_tree(outside)
    assert outside.is_dir()


def test_a_baseline_revision_that_is_no_commit_stops_the_bench(capsys):
    with pytest.raises(SystemExit):
        bench.resolve_revision("no-such-revision-anywhere")
    assert "BENCH_BASELINE=no-such-revision-anywhere" in capsys.readouterr().err


def test_ansible_playbook_runs_in_the_given_directory(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(hostlib.subprocess, "run",
                        lambda command, **kwargs: seen.update(kwargs) or subprocess.CompletedProcess(command, 0))
    hostlib.ansible_playbook("site.yml", cwd=tmp_path)
    assert seen["cwd"] == tmp_path
    hostlib.ansible_playbook("site.yml", log=tmp_path / "log")
    assert seen["cwd"] == hostlib.ROOT
