"""plugins/filter/deploy.py: the settings module a project's manage.py names, and a failed step's
cause put first."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1].parent
SPEC = importlib.util.spec_from_file_location("deploy_filters", ROOT / "plugins" / "filter" / "deploy.py")
deploy = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(deploy)

STARTPROJECT = '''#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError("Couldn't import Django.") from exc
    execute_from_command_line(sys.argv)
'''


@pytest.mark.parametrize("text,module", [
    (STARTPROJECT, "mysite.settings"),
    ('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")\n', "config.settings.production"),
    ("os.environ.setdefault( 'DJANGO_SETTINGS_MODULE' , 'a_b.c' )", "a_b.c"),
    # Commented out, not a module name, a mismatched quote, none at all, not text.
    ("# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'old.settings')\n", ""),
    ("os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'x; import os')", ""),
    ("os.environ.setdefault('DJANGO_SETTINGS_MODULE\", 'x.settings')", ""),
    ("os.environ['DJANGO_SETTINGS_MODULE'] = 'forced.settings'", ""),
    (None, ""),
])
def test_the_settings_module_manage_py_names(text, module):
    assert deploy.django_settings_module(text) == module


def test_the_settings_module_of_a_generated_project(tmp_path):
    """What `django-admin startproject` (this environment's Django) writes, read by the filter."""
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], check=True)
    assert deploy.django_settings_module((tmp_path / "manage.py").read_text()) == "mysite.settings"


def traceback_of(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stderr


def test_an_exception_comes_first_not_the_traceback_top():
    stderr = traceback_of("import importlib\n"
                          "def load():\n    importlib.import_module('mysite.missing_settings')\nload()")
    message = deploy.failure_cause({"stderr": stderr, "stdout": "ignored", "msg": "non-zero return code"})
    first = message.splitlines()[0]
    assert first == "ModuleNotFoundError: No module named 'mysite'"
    assert "Traceback (most recent call last):" in message  # the tail follows


def test_a_chained_exception_gives_the_last_one():
    stderr = traceback_of("try:\n    import no_such_module_here\nexcept ImportError as e:\n"
                          "    raise RuntimeError('django_app_csp is set: add django-csp') from e")
    assert deploy.failure_cause({"stderr": stderr}).splitlines()[0] == "RuntimeError: django_app_csp is set: " \
                                                                       "add django-csp"


def test_pips_error_comes_first():
    stderr = ("Collecting Django==9.9\n"
              "ERROR: Could not find a version that satisfies the requirement Django==9.9 (from versions: 5.2)\n"
              "ERROR: No matching distribution found for Django==9.9\n")
    assert deploy.failure_cause({"stderr": stderr}).splitlines()[0].startswith(
        "ERROR: Could not find a version that satisfies the requirement Django==9.9")


def test_the_first_failed_system_check_comes_first():
    stderr = ("SystemCheckError: System check identified some issues:\n\nWARNINGS:\n"
              "?: (security.W018) You should not have DEBUG set to True in deployment.\n\n"
              "System check identified 1 issue (0 silenced).\n")
    assert deploy.failure_cause({"stderr": stderr}).splitlines()[0] == \
        "?: (security.W018) You should not have DEBUG set to True in deployment."


def test_other_output_ends_with_its_cause_and_is_kept_short():
    lines = [f"line {n}" for n in range(100)]
    message = deploy.failure_cause({"stderr": "", "stdout": "\n".join(lines) + "\n\n"}, tail_lines=5)
    assert message.splitlines()[0] == "line 99"
    assert message.splitlines()[-5:] == lines[-5:] and "line 90" not in message


def test_a_task_message_alone_and_no_output_at_all():
    assert deploy.failure_cause({"msg": "Destination directory does not exist"}) == \
        "Destination directory does not exist"
    assert deploy.failure_cause({}) == "(the step failed without output)"
    assert deploy.failure_cause("not a result") == "(the step failed without output)"


READY = ["1700000300.5 /srv/app/releases/c3", "1700000100.0 /srv/app/releases/a1",
         "1700000200.25 /srv/app/releases/b2"]


@pytest.mark.parametrize("live, previous", [
    ("/srv/app/releases/c3", "/srv/app/releases/b2"),
    # After one rollback the live release is no longer the newest: the next goes further back.
    ("/srv/app/releases/b2", "/srv/app/releases/a1"),
    ("/srv/app/releases/b2/", "/srv/app/releases/a1"),
])
def test_the_previous_release_is_the_one_completed_before_the_live_one(live, previous):
    assert deploy.previous_release(READY, live) == previous


@pytest.mark.parametrize("ready, live", [
    (READY, "/srv/app/releases/a1"),          # the oldest kept: nothing before it
    (READY, "/srv/app/releases/unfinished"),  # the live one has no ready marker
    ([], "/srv/app/releases/a1"),
    (READY + [""], ""),                       # no live release at all
])
def test_no_previous_release(ready, live):
    assert deploy.previous_release(ready, live) == ""


PRESENT = ["/srv/app/releases/a1", "/srv/app/releases/b2", "/srv/app/releases/c3",
           "/srv/app/releases/failed1", "/srv/app/releases/failed2"]


def test_failed_builds_are_deleted_and_do_not_push_out_complete_releases():
    # Four failed deploys after a1 and b2 once pushed a1 out (keep 3 counted every directory).
    assert deploy.releases_to_delete(READY, PRESENT, 3, "/srv/app/releases/c3") == [
        "/srv/app/releases/failed1", "/srv/app/releases/failed2"]


def test_complete_releases_beyond_keep_go_oldest_first_and_never_the_live_one():
    assert deploy.releases_to_delete(READY, PRESENT[:3], 2, "/srv/app/releases/c3") == ["/srv/app/releases/a1"]
    assert deploy.releases_to_delete(READY, PRESENT[:3], 1, "/srv/app/releases/c3") == [
        "/srv/app/releases/a1", "/srv/app/releases/b2"]
    # Live after a rollback, and the oldest: kept all the same, and counted (the live one included).
    assert deploy.releases_to_delete(READY, PRESENT[:3], 1, "/srv/app/releases/a1") == [
        "/srv/app/releases/b2", "/srv/app/releases/c3"]


A1, B2, C3 = "/srv/app/releases/a1", "/srv/app/releases/b2", "/srv/app/releases/c3"
D4 = "/srv/app/releases/d4"
READY4 = READY + ["1700000400.0 " + D4]


def test_a_deploy_adds_the_new_release_to_the_history_once():
    assert deploy.live_history([A1, B2], READY, B2, C3) == [A1, B2, C3]
    # A re-run with the same release live changes nothing.
    assert deploy.live_history([A1, B2, C3], READY, C3, C3) == [A1, B2, C3]
    # File lines as the host_state command reads them.
    assert deploy.live_history([A1 + "\n", "", B2 + "/"], READY, B2, C3) == [A1, B2, C3]


def test_a_host_without_a_history_starts_it_in_the_order_rollbacks_used_before():
    assert deploy.live_history([], READY, B2, C3) == [A1, B2, C3]
    assert deploy.live_history([], READY4, C3, D4) == [A1, B2, C3, D4]
    # The first deploy: nothing was live.
    assert deploy.live_history([], [], "", A1) == [A1]
    # A link switched by hand since: what was live goes in before the new one.
    assert deploy.live_history([A1, B2], READY4, C3, D4) == [A1, B2, C3, D4]


def test_the_history_is_bounded():
    many = [f"/srv/app/releases/r{n}" for n in range(deploy.HISTORY_ENTRIES)]
    history = deploy.live_history(many, [], many[-1], D4)
    assert len(history) == deploy.HISTORY_ENTRIES and history[-1] == D4 and many[0] not in history


def test_a_rollback_returns_to_what_was_live_before_and_cuts_the_history_back():
    assert deploy.rollback_plan([A1, B2, C3], READY, C3) == {"release": B2, "history": [A1, B2]}
    assert deploy.rollback_plan([A1, B2], READY, B2) == {"release": A1, "history": [A1]}


def test_a_release_rolled_back_from_is_not_the_next_deploys_rollback():
    # b2 was bad: rolled back to a1, then d4 deployed. By completion time b2 is d4's predecessor.
    history = deploy.rollback_plan([A1, B2], READY4, B2)["history"]
    history = deploy.live_history(history, READY4, A1, D4)
    assert history == [A1, D4]
    assert deploy.previous_release(READY4, D4) == C3
    assert deploy.rollback_plan(history, READY4, D4)["release"] == A1


def test_a_rollback_skips_releases_no_longer_on_disk():
    assert deploy.rollback_plan([A1, "/srv/app/releases/pruned", C3], READY, C3) == {
        "release": A1, "history": [A1]}


def test_nothing_to_roll_back_to_in_the_history():
    assert deploy.rollback_plan([A1], READY, A1) == {"release": "", "history": [A1]}
    # An older release on disk that was never live before a1 is not a way back.
    assert deploy.rollback_plan([B2, A1], READY, A1)["release"] == B2
    assert deploy.rollback_plan([C3, A1], [READY[1]], A1)["release"] == ""


def test_without_a_history_ending_at_the_live_release_completion_time_decides():
    assert deploy.rollback_plan([], READY, C3) == {"release": B2, "history": [B2]}
    assert deploy.rollback_plan([A1, B2], READY, C3) == {"release": B2, "history": [B2]}
    assert deploy.rollback_plan([], READY, A1)["release"] == ""


def test_the_kept_releases_are_the_history_s_before_the_newest():
    # a1 was live before d4 (b2 and c3 were rolled back from): keep 2 keeps d4 and a1.
    assert deploy.releases_to_delete(READY4, [A1, B2, C3, D4], 2, D4, [A1, D4]) == [B2, C3]
    # Without a history, completion time as before.
    assert deploy.releases_to_delete(READY4, [A1, B2, C3, D4], 2, D4) == [A1, B2]
