"""bin/test's own bookkeeping: the failure digest and the test bed's claim."""

import os
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "testbed" / "containers.conf"))
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def bin_test_function(script, tmp_path, **env):
    """Run SCRIPT in bash with bin/test's functions defined (set -euo pipefail, as bin/test runs)."""
    return subprocess.run(["bash", "-c", f'. "{ROOT}/bin/test"; {script}'], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path, env=dict(ENV, **env))


def test_a_long_failure_log_gives_the_first_80_lines_and_the_run_goes_on(tmp_path):
    # Far more than a pipe's buffer: the digest's reader stops long before the log ends.
    (tmp_path / "big.log").write_text("".join(f"FAILED tests/test_x.py::test_{n} - TimeoutError: timed out\n"
                                              for n in range(20000)))
    result = bin_test_function('digest=$(failure_digest big.log); printf "%s\\n" "$digest" | wc -l; echo went-on',
                               tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["80", "went-on"]


def podman(*args):
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, check=False, env=ENV)


def test_a_run_removes_the_test_beds_leftovers_and_refuses_beside_a_live_run(tmp_path):
    pidfile = tmp_path / "testbed.pid"
    tag = uuid.uuid4().hex[:8]
    # The claim's label is this test's own, so that no real test-bed container is touched; two empty
    # images stand for the test image (which carries the label) and someone else's.
    label = f"testbed.unittest-{tag}"
    ours, theirs = f"localhost/claim-ours-{tag}:latest", f"localhost/claim-theirs-{tag}:latest"
    empty = subprocess.run(["tar", "-c", "-T", "/dev/null"], capture_output=True, check=True).stdout
    for image, change in ((ours, ["--change", f"LABEL {label}=bookworm"]), (theirs, [])):
        assert subprocess.run(["podman", "import", *change, "-", image], input=empty, capture_output=True,
                              timeout=120, check=False, env=ENV).returncode == 0
    left, other = f"leftover-{tag}", f"unrelated-{tag}"
    try:
        assert podman("create", "--name", left, *LIMITS, ours, "true").returncode == 0
        assert podman("create", "--name", other, *LIMITS, theirs, "true").returncode == 0
        # Molecule's record of the removed containers goes too, or its create step would skip them.
        state = tmp_path / "molecule-state"
        (state / "molecule.AbCd.fleet").mkdir(parents=True)
        (state / "molecule.AbCd.fleet" / "state.yml").write_text("created: true\n")
        (state / "ansible-local-1").mkdir()
        result = bin_test_function("claim_testbed", tmp_path, TESTBED_PIDFILE=str(pidfile), TESTBED_LABEL=label,
                                   MOLECULE_STATE_ROOT=str(state))
        assert result.returncode == 0, result.stderr
        assert left in result.stdout
        assert sorted(path.name for path in state.iterdir()) == ["ansible-local-1"]
        assert podman("container", "exists", left).returncode == 1
        assert podman("container", "exists", other).returncode == 0
        assert pidfile.read_text().strip().isdigit()

        # A live bin/test holds the test bed: a second run stops before touching anything.
        live = subprocess.Popen(["bash", "-c", "exec -a bin/test sleep 60"])
        try:
            pidfile.write_text(f"{live.pid}\n")
            result = bin_test_function("claim_testbed", tmp_path, TESTBED_PIDFILE=str(pidfile), TESTBED_LABEL=label)
        finally:
            live.kill()
            live.wait()
        assert result.returncode == 1
        assert f"another bin/test (pid {live.pid})" in result.stderr
        assert pidfile.read_text().strip() == str(live.pid)
    finally:
        podman("rm", "--force", left, other)
        podman("rmi", "--force", ours, theirs)


def test_stages_side_by_side_are_each_counted_with_their_own_output_and_time(tmp_path):
    """The slower stage is reported after the faster, failing one; each with its own log and time."""
    script = (f'ROOT={tmp_path}; '
              'start_side_by_side "slow" bash -c "sleep 2; echo slow-out"; '
              'start_side_by_side "fails" bash -c "echo fails-out; exit 3"; '
              'finish_side_by_side; echo "passed=$passed failed=$failed failures=${failures[*]}"; '
              'printf "time: %s\\n" "${timings[@]}"')
    result = bin_test_function(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("==> slow") < out.index("slow-out") < out.index("==> fails") < out.index("fails-out")
    assert "passed=1 failed=1 failures=fails" in out
    assert "time: slow: passed in 2 s" in out
    assert "time: fails: FAILED after 0 s" in out
