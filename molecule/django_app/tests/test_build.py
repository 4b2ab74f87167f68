"""How releases are built, seen on the host: pip runs as the unprivileged build
user, never as root, and a private index's token (converge.yml's
django_app_pip_env) stays out of the process list and the journal.

converge.yml starts a watcher that writes the process list, with each
process's user, to /var/log/ps-watch.log five times a second during the runs."""

from helpers import APP

TOKEN = "index-token-must-stay-secret"
BUILD_USER = f"{APP}-build"
WATCH = "/var/log/ps-watch.log"


def test_pip_ran_as_the_build_user_and_never_as_root(host):
    # pip itself: the venv's python running `-m pip install` (not systemd-run's command line, root's).
    pip = [line for line in host.check_output(f"cat {WATCH}").splitlines()
           if len(line.split()) > 3 and line.split()[1].endswith("/venv/bin/python")
           and line.split()[2:5] == ["-m", "pip", "install"]]
    assert pip, "the watcher saw no pip run"
    assert {line.split()[0] for line in pip} == {BUILD_USER}, pip[:5]
    # pip's cache (if the index lets it cache anything) is the build user's too.
    assert host.check_output(f"find /var/cache/{APP}-build -user root") == ""
    # Once built, the release is root's: neither the build user nor the app can change it.
    assert host.check_output(f"find -L {host.check_output(f'readlink -f /srv/{APP}/current')} ! -user root "
                             "| head -n 3") == ""


def test_the_index_token_is_in_no_process_list_and_no_log(host):
    host.run_expect([0, 5], "systemctl stop ps-watch.service")  # our own grep must not be seen
    assert host.run(f"grep -c -F {TOKEN} {WATCH}").stdout.strip() == "0"
    assert host.run(f"journalctl -q -o cat | grep -c -F {TOKEN}").stdout.strip() == "0"
    build_env = host.file(f"/etc/{APP}/build.env")
    assert (build_env.user, build_env.mode) == ("root", 0o600) and TOKEN in build_env.content_string
