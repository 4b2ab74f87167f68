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
    pip = [line for line in host.check_output(f"cat {WATCH}").splitlines() if " -m pip install" in line]
    assert pip, "the watcher saw no pip run"
    assert {line.split()[0] for line in pip} == {BUILD_USER}, pip[:5]
    # pip's cache: what pip wrote belongs to the build user, nothing to root.
    cache = f"/var/cache/{APP}-build"
    assert host.check_output(f"find {cache} -user root") == ""
    assert int(host.check_output(f"find {cache} -type f -user {BUILD_USER} | wc -l")) > 0
    # Once built, the release is root's: neither the build user nor the app can change it.
    assert host.check_output(f"find -L {host.check_output(f'readlink -f /srv/{APP}/current')} ! -user root "
                             "| head -n 3") == ""


def test_the_index_token_is_in_no_process_list_and_no_log(host):
    host.run_expect([0, 5], "systemctl stop ps-watch.service")  # our own grep must not be seen
    assert host.run(f"grep -c -F {TOKEN} {WATCH}").stdout.strip() == "0"
    assert host.run(f"journalctl -q -o cat | grep -c -F {TOKEN}").stdout.strip() == "0"
    build_env = host.file(f"/etc/{APP}/build.env")
    assert (build_env.user, build_env.mode) == ("root", 0o600) and TOKEN in build_env.content_string
