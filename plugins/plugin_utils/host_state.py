# Copyright: the hardening.stack authors. MIT License.
"""One read of a host's state, and the comparison that decides what differs.

A role declares what it manages once, as a table of items (files from a
template, a file or inline content, directories, links, absent paths). The
``host_state`` action reads every item's path, the packages and units the role
asks about, and any extra read-only commands, in ONE shell round trip (a
module run costs a Python start on the host, about 0.2 s). The ``managed``
action then compares each item with what the role would write, on the
controller, and runs the real module (with its validate, diff and check mode)
only for the items that differ.

This module is pure Python (no Ansible imports) so that it is unit-tested on
its own: building the probe script, parsing its output, checking a table and
comparing an item with what was observed.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
import stat

# The kinds of item a table may hold, by the key that names the source.
FILE_SOURCES = ("template", "copy", "content")
STATES = ("file", "directory", "link", "absent")
_MODE = re.compile(r"^0?[0-7]{3,4}$")
_NAME = re.compile(r"^[A-Za-z0-9_.@:+-]+$")
_COMMAND_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ITEM_KEYS = {
    "concern", "path", "state", "template", "copy", "content", "src", "owner",
    "mode", "validate", "backup", "vars", "when", "group",
}


class TableError(ValueError):
    """A managed-item table that cannot be applied; the message names the item."""


def item_state(item):
    """The state an item asks for: file, directory, link or absent."""
    if any(key in item for key in FILE_SOURCES):
        return "file"
    return item.get("state", "file")


def normalize_mode(mode):
    """'644', '0644' or 0o644 -> '0644'; None stays None."""
    if mode is None:
        return None
    if isinstance(mode, int) and not isinstance(mode, bool):
        return "%04o" % mode
    text = str(mode)
    if not _MODE.match(text):
        raise TableError("mode %r is not an octal mode such as '0644'" % (mode,))
    return "%04o" % int(text, 8)


def _enabled(item):
    when = item.get("when", True)
    if isinstance(when, str):
        return when.strip().lower() in ("true", "yes", "1")
    return bool(when)


def check_table(items, role="role"):
    """Check a table of managed items and return the enabled ones, normalized.

    Each item is a dict with ``concern`` (the word an apply task selects it by),
    an absolute ``path`` and exactly one of: ``template``, ``copy`` (a file
    from the role's files/), ``content``, or ``state`` directory, link (with
    ``src``) or absent. Files and directories need ``mode``; ``owner`` and
    ``group`` default to root. ``when: false`` leaves an item out (its path
    may then be empty: it comes from an option that is off).
    Raises TableError naming the offending item.
    """
    if not isinstance(items, list):
        raise TableError("%s: the managed table must be a list of items, got %s" % (role, type(items).__name__))
    seen = {}
    result = []
    for index, raw in enumerate(items):
        where = "%s: managed item %d" % (role, index)
        if not isinstance(raw, dict):
            raise TableError("%s must be a dict, got %r" % (where, raw))
        unknown = sorted(set(raw) - _ITEM_KEYS)
        if unknown:
            raise TableError("%s (%s) has unknown keys: %s" % (where, raw.get("path"), ", ".join(unknown)))
        path = raw.get("path")
        if path == "" and not _enabled(raw):
            continue  # an item that is off may have no path: it comes from the option that is off
        if (not isinstance(path, str) or not path.startswith("/") or any(c in path for c in "\t\n\r")
                or posixpath.normpath(path) != path or path.startswith("//")):
            raise TableError("%s: path must be an absolute, normalized path (no //, . or .. parts, no trailing /),"
                             " got %r" % (where, path))
        where = "%s: managed item %s" % (role, path)
        if not isinstance(raw.get("concern"), str) or not _COMMAND_NAME.match(raw.get("concern", "")):
            raise TableError("%s: concern must be a word naming the apply task, got %r" % (where, raw.get("concern")))
        sources = [key for key in FILE_SOURCES if key in raw]
        if len(sources) > 1:
            raise TableError("%s: give only one of template, copy, content (got %s)" % (where, ", ".join(sources)))
        state = item_state(raw)
        if state not in STATES:
            raise TableError("%s: state must be one of %s, got %r" % (where, ", ".join(STATES), state))
        if sources and raw.get("state", "file") != "file":
            raise TableError("%s: a %s item cannot have state %s" % (where, sources[0], raw["state"]))
        if state == "file" and not sources:
            raise TableError("%s: a file needs one of template, copy or content" % where)
        if state == "link" and not isinstance(raw.get("src"), str):
            raise TableError("%s: a link needs src (its target)" % where)
        if state in ("file", "directory") and raw.get("mode") is None:
            raise TableError("%s: a %s needs mode" % (where, state))
        for key in ("owner", "group"):
            if key in raw and not (isinstance(raw[key], str) and _NAME.match(raw[key])):
                raise TableError("%s: %s must be a user or group name, got %r" % (where, key, raw[key]))
        if "content" in raw and not isinstance(raw["content"], str):
            raise TableError("%s: content must be a string" % where)
        if "vars" in raw and not isinstance(raw["vars"], dict):
            raise TableError("%s: vars must be a dict" % where)
        if not _enabled(raw):
            continue
        if path in seen:
            raise TableError("%s: the path is declared twice (concerns %s and %s)" % (where, seen[path], raw["concern"]))
        seen[path] = raw["concern"]
        item = dict(raw)
        item["state"] = state
        if state in ("file", "directory"):
            try:
                item["mode"] = normalize_mode(raw["mode"])
            except TableError as error:
                raise TableError("%s: %s" % (where, error)) from None
            item.setdefault("owner", "root")
            item.setdefault("group", "root")
        result.append(item)
    return result


# How long one read-only command may take before the read fails.
COMMAND_TIMEOUT = 120
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_UNIT = re.compile(r"^[A-Za-z0-9@_.:\\-]+$")


def probe_script(paths=(), packages=(), units=(), commands=None, marker="@@"):
    """The one shell script that reads everything; sections start with MARKER.

    Per path: ``P<TAB>path<TAB>rawmode-hex<TAB>owner<TAB>group<TAB>sha1`` for
    anything that exists (sha1 for regular files only, else ``-``),
    ``L<TAB>path<TAB>target-hex`` for a symlink (hex: a target may hold any
    byte), ``A<TAB>path`` when it does not exist, ``E<TAB>path`` when it
    cannot be examined (permission denied: never taken for absent). The raw
    mode (stat %f) carries the file type, so an empty file is still a
    regular file. Each command runs in its own shell under a timeout, its
    stderr dropped; its exit status follows its output.
    """
    commands = commands or {}
    for name in packages:
        if not _PACKAGE.match(name):
            raise TableError("package name %r is not a Debian package name" % (name,))
    for name in units:
        if not _UNIT.match(name):
            raise TableError("unit name %r is not a systemd unit name" % (name,))
    # The C locale: parsed output (ufw status, stat, dpkg) must not be translated.
    lines = ["LC_ALL=C; export LC_ALL; unset LANGUAGE", "echo %s" % shlex.quote(marker + " paths")]
    if paths:
        lines.append("for p in %s; do" % " ".join(shlex.quote(p) for p in paths))
        lines.append(
            '  if [ -L "$p" ]; then printf \'L\\t%s\\t%s\\n\' "$p" "$(readlink -- "$p" | od -An -v -tx1 | tr -d \' \\n\')"\n'
            '  elif [ -e "$p" ]; then\n'
            '    if [ -f "$p" ]; then h=$(sha1sum < "$p" | cut -c1-40); else h=-; fi\n'
            '    printf \'P\\t%s\\t%s\\t%s\\n\' "$p" "$(stat --printf \'%f\\t%U\\t%G\' -- "$p")" "$h"\n'
            '  elif stat -- "$p" 2>&1 | grep -Eq \'No such file or directory|Not a directory\'; then\n'
            '    printf \'A\\t%s\\n\' "$p"\n'
            '  else printf \'E\\t%s\\n\' "$p"; fi'
        )
        lines.append("done")
    lines.append("echo %s" % shlex.quote(marker + " packages"))
    if packages:
        lines.append(
            "dpkg-query --show --showformat='${Package}\\t${db:Status-Abbrev}\\t${Version}\\n' -- %s 2>/dev/null"
            % " ".join(shlex.quote(p) for p in packages)
        )
    lines.append("echo %s" % shlex.quote(marker + " units"))
    if units:
        lines.append("for u in %s; do" % " ".join(shlex.quote(u) for u in units))
        lines.append(
            '  printf \'%s\\t%s\\t%s\\n\' "$u" "$(systemctl is-enabled -- "$u" 2>/dev/null)"'
            ' "$(systemctl is-active -- "$u" 2>/dev/null)"'
        )
        lines.append("done")
    for name, command in commands.items():
        if not _COMMAND_NAME.match(name):
            raise TableError("command name %r must be a word" % (name,))
        lines.append("echo %s" % shlex.quote("%s command %s" % (marker, name)))
        # Its own shell: a failing or exiting command ends only itself. The
        # newline before the status line ends output that has none.
        lines.append("timeout %d /bin/sh -c %s </dev/null 2>/dev/null" % (COMMAND_TIMEOUT, shlex.quote(command)))
        lines.append("printf '\\n%%s %%s\\n' %s \"$?\"" % shlex.quote(marker + " status"))
    lines.append("echo %s" % shlex.quote(marker + " end"))
    lines.append("true")
    return "\n".join(lines) + "\n"


def _file_type(raw_mode):
    if stat.S_ISREG(raw_mode):
        return "file"
    if stat.S_ISDIR(raw_mode):
        return "directory"
    return "other"


class ProbeError(ValueError):
    """The probe's output cannot be trusted (a path read twice, unreadable, or cut short)."""


def parse_probe(output, marker="@@"):
    """Parse the probe's output into paths, packages, units, commands and their status.

    Lines are split on newline only (a CR a pty adds is dropped), so no other
    line-breaking character in a file name or output can start a record.
    """
    result = {"paths": {}, "packages": {}, "units": {}, "commands": {}, "command_status": {},
              "unreadable": [], "complete": False}
    section = None
    for line in output.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith(marker + " "):
            name = line[len(marker) + 1:]
            if name.startswith("command "):
                section = ("command", name[len("command "):])
                result["commands"][section[1]] = []
            elif name.startswith("status ") and section and section[0] == "command":
                lines = result["commands"][section[1]]
                # The newline printed before the status line.
                if lines and lines[-1] == "":
                    lines.pop()
                result["command_status"][section[1]] = int(name.split(" ", 1)[1] or -1)
                section = None
            elif name == "end":
                result["complete"] = True
                section = None
            else:
                section = (name, None)
            continue
        if section is None:
            continue
        kind, command = section
        if kind == "command":
            result["commands"][command].append(line)
        elif kind == "paths":
            _parse_path_line(line, result)
        elif kind == "packages":
            fields = line.split("\t")
            if len(fields) == 3:
                result["packages"][fields[0]] = {
                    "installed": fields[1].startswith("ii"), "status": fields[1].strip(), "version": fields[2]}
        elif kind == "units":
            fields = line.split("\t")
            if len(fields) == 3:
                result["units"][fields[0]] = {
                    "enabled": fields[1], "active": fields[2],
                    "enabled_and_active": fields[1] == "enabled" and fields[2] == "active"}
    return result


def _parse_path_line(line, result):
    paths = result["paths"]
    fields = line.split("\t")
    path = fields[1] if len(fields) > 1 else None
    if path in paths:
        raise ProbeError("%s was reported twice" % path)
    if fields[0] == "A" and len(fields) == 2:
        paths[path] = {"exists": False, "type": "absent"}
    elif fields[0] == "E" and len(fields) == 2:
        paths[path] = {"exists": None, "type": "unreadable"}
        result["unreadable"].append(path)
    elif fields[0] == "L" and len(fields) == 3:
        target = bytes.fromhex(fields[2])
        # readlink ends the target with one newline.
        if target.endswith(b"\n"):
            target = target[:-1]
        paths[path] = {"exists": True, "type": "link", "target": target.decode("utf-8", "surrogateescape")}
    elif fields[0] == "P" and len(fields) == 6:
        raw_mode = int(fields[2], 16)
        paths[path] = {
            "exists": True,
            "type": _file_type(raw_mode),
            "mode": "%04o" % stat.S_IMODE(raw_mode),
            "owner": fields[3],
            "group": fields[4],
            "sha1": None if fields[5] == "-" else fields[5],
        }


def sha1_of(data):
    """SHA-1 hex of text (UTF-8) or bytes, as sha1sum prints it."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    return hashlib.sha1(data).hexdigest()


def differences(item, observed, content_sha1=None):
    """Why OBSERVED (a parse_probe path entry, or None) is not ITEM; [] when in place.

    CONTENT_SHA1 is the SHA-1 of what a file item would hold.
    """
    state = item["state"]
    if observed is None:
        return ["not read from the host"]
    found = observed.get("type")
    if state == "absent":
        return [] if found == "absent" else ["exists (%s)" % found]
    if found == "absent":
        return ["absent"]
    if state == "link":
        if found != "link":
            return ["is a %s, not a link" % found]
        if observed.get("target") != item["src"]:
            return ["links to %s, not %s" % (observed.get("target"), item["src"])]
        return []
    if found != state:
        return ["is a %s, not a %s" % (found, state)]
    reasons = []
    if observed.get("mode") != item["mode"]:
        reasons.append("mode %s, not %s" % (observed.get("mode"), item["mode"]))
    if observed.get("owner") != item["owner"]:
        reasons.append("owner %s, not %s" % (observed.get("owner"), item["owner"]))
    if observed.get("group") != item["group"]:
        reasons.append("group %s, not %s" % (observed.get("group"), item["group"]))
    if state == "file":
        if content_sha1 is None:
            raise ValueError("a file item needs the SHA-1 of its content to be compared")
        if observed.get("sha1") != content_sha1:
            reasons.append("content differs")
    return reasons
