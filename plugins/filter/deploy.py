# Copyright: the hardening.stack authors. MIT License.
"""Filters of the app's deploy (roles/django_app): read the user's project and
say why a build step failed.

- `django_settings_module(manage_py)`: the settings module a project's
  manage.py names (`os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")`),
  or "" when it names none. Read as text: no project code runs.
- `failure_cause(result)`: a failed command's output turned around, the error
  itself first (Python's exception line, pip's ERROR line, the first failed
  system check), then the tail that led to it. A traceback's top (the frames)
  is never what a user needs first.
- `live_history(history, ready, live, new)`: the releases that have been live,
  oldest first, after a deploy switches NEW in: NEW appended unless it is
  live already. A host deployed before the history existed starts it with
  the complete releases completed before the live one, in that order (what
  rollbacks went back to until then).
- `rollback_plan(history, ready, live)`: where a rollback goes, as
  {release, history}. The release is the one that was live before LIVE (the
  newest complete entry before LIVE's, at the history's end), and the history
  is cut back to it, so a second rollback goes further back and a release
  rolled back from is never returned to by the next deploy's rollback.
  Without a history that ends at LIVE (hosts deployed before it existed, a
  link switched by hand) it falls back on `previous_release`.
- `previous_release(ready, live)` (rollback_plan's fallback, not a filter of
  its own): the newest complete release completed before the live one, from
  "MTIME PATH" lines (find's `%T@ %h` of each release's ready marker); "" when
  there is none, or the live release is not among them.
- `releases_to_delete(ready, present, keep, live, history)`: what a deploy
  prunes, every incomplete release (a failed build) and the complete ones
  beyond KEEP, never LIVE. The kept ones are LIVE, then the history's from the
  newest (what rollbacks go back to), then the newest by completion time.
  Failed builds do not count towards KEEP: they would push out the releases a
  rollback needs.

Pure Python (standard library): tests/unit/test_deploy_filters.py loads this
file by path.
"""

import re

# os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings") in any quoting.
_SETTINGS_DEFAULT_RE = re.compile(
    r"""environ\s*\.\s*setdefault\(\s*(['"])DJANGO_SETTINGS_MODULE\1\s*,\s*(['"])([A-Za-z_][\w.]*)\2\s*\)""")
_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# The header of each traceback Python prints (chained exceptions print several).
_TRACEBACK = "Traceback (most recent call last):"
# A line of Django's check framework: "?: (security.W018) ..." or "app.Model: (models.E001) ...".
_CHECK_LINE_RE = re.compile(r"^\S*: \([\w.]+\.[EWC]\d+\) ")
# pip's own errors: "ERROR: Could not find a version ...", "ERROR: Invalid requirement ...".
_PIP_ERROR_RE = re.compile(r"^ERROR: ")
# Entries kept in a host's history of live releases (older ones are pruned from disk anyway).
HISTORY_ENTRIES = 20
# Lines of the tail shown after the cause.
TAIL_LINES = 25
# A line longer than this is cut (a minified file in a traceback, say).
LINE_WIDTH = 500


def django_settings_module(manage_py):
    """The settings module manage.py sets as DJANGO_SETTINGS_MODULE's default, or ""."""
    if not isinstance(manage_py, str):
        return ""
    for line in manage_py.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _SETTINGS_DEFAULT_RE.search(line)
        if match and _MODULE_RE.fullmatch(match.group(3)):
            return match.group(3)
    return ""


def _exception_line(lines):
    """The exception that ended the last traceback: the first unindented line after its frames."""
    starts = [index for index, line in enumerate(lines) if line.strip() == _TRACEBACK]
    if not starts:
        return None
    for line in lines[starts[-1] + 1:]:
        if line.strip() and not line[0].isspace():
            return line.strip()
    return None


def _cause(lines):
    exception = _exception_line(lines)
    if exception:
        return exception
    for pattern in (_PIP_ERROR_RE, _CHECK_LINE_RE):
        found = next((line.strip() for line in lines if pattern.match(line)), None)
        if found:
            return found
    # Python without a traceback (SystemExit text, a CommandError) ends with its message.
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def failure_cause(result, tail_lines=TAIL_LINES):
    """A failed task's result as one message: its cause on the first line, then the output's tail.

    stderr is read first (Python and pip write their errors there), then
    stdout, then the task's own msg.
    """
    result = result if isinstance(result, dict) else {}
    text = ""
    for key in ("stderr", "stdout", "msg"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            text = value
            break
    lines = [line[:LINE_WIDTH] for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return "(the step failed without output)"
    cause = _cause(lines)
    tail = lines[-int(tail_lines):]
    if len(tail) == 1 and tail[0].strip() == cause:
        return cause
    return "\n".join([cause, "", "The output's end:"] + tail)


def _completed(ready):
    """{release path: completion time} from "MTIME PATH" lines."""
    completed = {}
    for line in ready:
        stamp, _, path = line.strip().partition(" ")
        if path:
            completed[path.rstrip("/")] = float(stamp)
    return completed


def previous_release(ready, live):
    """The newest complete release completed before LIVE ("" if none).

    Completion time, not the name, orders releases: names are content hashes.
    """
    completed = _completed(ready)
    live = live.rstrip("/")
    if live not in completed:
        return ""
    older = [(stamp, path) for path, stamp in completed.items() if stamp < completed[live]]
    return max(older)[1] if older else ""


def _entries(history):
    """History lines (or a list) as release paths, blank lines and trailing slashes dropped."""
    return [line.strip().rstrip("/") for line in history or () if line.strip()]


def live_history(history, ready, live, new):
    """The history after NEW is switched in (see the module's docstring), at most HISTORY_ENTRIES."""
    entries, completed = _entries(history), _completed(ready)
    live, new = live.strip().rstrip("/"), new.strip().rstrip("/")
    if not entries and live in completed:
        # Begun on a host deployed before the history: the order rollbacks used until then.
        entries = sorted((path for path in completed if completed[path] < completed[live]),
                         key=lambda path: completed[path])
    if live and (not entries or entries[-1] != live):
        entries.append(live)
    if entries[-1:] != [new]:
        entries.append(new)
    return entries[-HISTORY_ENTRIES:]


def rollback_plan(history, ready, live):
    """{release, history}: where a rollback goes and the history it leaves (module's docstring)."""
    entries, completed = _entries(history), _completed(ready)
    live = live.strip().rstrip("/")
    if entries and live and entries[-1] == live:
        for index in range(len(entries) - 2, -1, -1):
            if entries[index] != live and entries[index] in completed:
                return {"release": entries[index], "history": entries[:index + 1]}
        return {"release": "", "history": entries}
    release = previous_release(ready, live)
    return {"release": release, "history": [release] if release else entries}


def releases_to_delete(ready, present, keep, live, history=()):
    """The release directories a deploy deletes, in path order (see the module's docstring)."""
    completed = _completed(ready)
    live = live.rstrip("/")
    ranked = [live] + _entries(history)[::-1] + sorted(completed, key=lambda path: completed[path], reverse=True)
    kept = []
    for path in ranked:
        if path in completed and path not in kept:
            kept.append(path)
    stale = set(kept[int(keep):])
    stale.update(path.rstrip("/") for path in present if path.strip() and path.rstrip("/") not in completed)
    stale.discard(live)
    return sorted(stale)


class FilterModule:
    """Deploy filters of hardening.stack."""

    def filters(self):
        return {
            "django_settings_module": django_settings_module,
            "failure_cause": failure_cause,
            "live_history": live_history,
            "rollback_plan": rollback_plan,
            "releases_to_delete": releases_to_delete,
        }
