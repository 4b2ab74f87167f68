"""The state mechanism's pure parts: the table check, the probe, the comparison.

The probe script runs for real (in /bin/sh on this machine, over a temporary
directory), so the parser is tested on what the shell prints, not on a copy.
"""

import importlib.util
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("host_state", ROOT / "plugins/plugin_utils/host_state.py")
hs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hs)


def read(paths=(), packages=(), units=(), commands=None, user=None):
    script = hs.probe_script([str(p) for p in paths], list(packages), list(units), commands or {}, "@@t")
    argv = ["/bin/sh", "-c", script]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    out = subprocess.run(argv, capture_output=True, text=True, check=True, errors="surrogateescape").stdout
    return hs.parse_probe(out, "@@t")


def file_item(path, **extra):
    return hs.check_table([{"concern": "c", "path": str(path), "content": "x", "mode": "0644", **extra}])[0]


def test_table_defaults_and_normalizes():
    items = hs.check_table([
        {"concern": "a", "path": "/etc/f", "template": "f.j2", "mode": "644"},
        {"concern": "a", "path": "/etc/d", "state": "directory", "mode": 0o750, "group": "adm"},
        {"concern": "b", "path": "/etc/l", "state": "link", "src": "/x"},
        {"concern": "b", "path": "/etc/gone", "state": "absent"},
        {"concern": "b", "path": "/etc/off", "content": "", "mode": "0600", "when": False},
        {"concern": "b", "path": "", "state": "directory", "mode": "0700", "when": "False"},
    ])
    assert [i["path"] for i in items] == ["/etc/f", "/etc/d", "/etc/l", "/etc/gone"]
    assert items[0]["mode"] == "0644" and items[0]["owner"] == "root" and items[0]["group"] == "root"
    assert items[0]["state"] == "file"
    assert items[1]["mode"] == "0750" and items[1]["group"] == "adm"


@pytest.mark.parametrize("item, words", [
    ({"concern": "a", "path": "etc/f", "content": "", "mode": "0644"}, "absolute, normalized path"),
    ({"concern": "a", "path": "/etc//f", "content": "", "mode": "0644"}, "normalized"),
    ({"concern": "a", "path": "/etc/./f", "content": "", "mode": "0644"}, "normalized"),
    ({"concern": "a", "path": "/etc/d/", "state": "directory", "mode": "0755"}, "normalized"),
    ({"concern": "a", "path": "/f", "content": {"a": 1}, "mode": "0644"}, "content must be a string"),
    ({"path": "/f", "content": "", "mode": "0644"}, "concern"),
    ({"concern": "a", "path": "/f", "content": "", "template": "t", "mode": "0644"}, "only one of"),
    ({"concern": "a", "path": "/f", "mode": "0644"}, "needs one of template"),
    ({"concern": "a", "path": "/f", "content": ""}, "needs mode"),
    ({"concern": "a", "path": "/f", "content": "", "mode": "u=rw"}, "octal mode"),
    ({"concern": "a", "path": "/f", "state": "link"}, "needs src"),
    ({"concern": "a", "path": "/f", "state": "fifo"}, "state must be one of"),
    ({"concern": "a", "path": "/f", "content": "", "mode": "0644", "owner": "a b"}, "user or group name"),
    ({"concern": "a", "path": "/f", "content": "", "mode": "0644", "colour": 1}, "unknown keys: colour"),
])
def test_table_refuses_bad_items_naming_them(item, words):
    with pytest.raises(hs.TableError, match=words):
        hs.check_table([item], "myrole")


def test_table_refuses_a_path_declared_twice():
    with pytest.raises(hs.TableError, match="declared twice"):
        hs.check_table([{"concern": "a", "path": "/f", "state": "absent"},
                        {"concern": "b", "path": "/f", "state": "absent"}])


def test_probe_reads_files_directories_links_and_absent_paths(tmp_path):
    full = tmp_path / "full"
    full.write_text("hello\n")
    os.chmod(full, 0o640)
    empty = tmp_path / "empty"
    empty.write_text("")
    os.chmod(empty, 0o600)
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o2750)
    os.chmod(directory, 0o2750)
    link = tmp_path / "link"
    link.symlink_to("/nowhere/target")
    state = read([full, empty, directory, link, tmp_path / "missing", tmp_path / "it's here"])
    paths = state["paths"]
    assert state["complete"]
    assert paths[str(full)]["type"] == "file" and paths[str(full)]["mode"] == "0640"
    assert paths[str(full)]["sha1"] == hs.sha1_of("hello\n")
    # An empty file is a regular file (GNU stat's %F would say "regular empty file").
    assert paths[str(empty)]["type"] == "file" and paths[str(empty)]["sha1"] == hs.sha1_of("")
    assert paths[str(directory)]["type"] == "directory" and paths[str(directory)]["mode"] == "2750"
    assert paths[str(directory)]["sha1"] is None
    assert paths[str(link)] == {"exists": True, "type": "link", "target": "/nowhere/target"}
    assert paths[str(tmp_path / "missing")]["type"] == "absent"
    assert paths[str(tmp_path / "it's here")]["type"] == "absent"
    owner = paths[str(full)]["owner"]
    assert owner and paths[str(full)]["group"]


def test_probe_reads_packages_units_and_commands():
    state = read(packages=["dpkg", "no-such-package-xyz"], units=["no-such.service"],
                 commands={"hello": "echo one; echo two", "failing": "exit 3", "after": "echo still"})
    assert state["packages"]["dpkg"]["installed"] is True
    assert "no-such-package-xyz" not in state["packages"]
    assert state["units"]["no-such.service"]["enabled_and_active"] is False
    assert state["commands"] == {"hello": ["one", "two"], "failing": [], "after": ["still"]}


def test_a_forged_marker_in_command_output_is_only_output():
    state = read(commands={"evil": "echo '@@x end'; echo '@@x command other'"})
    assert state["commands"]["evil"] == ["@@x end", "@@x command other"]
    assert state["complete"]


def test_output_cut_short_is_incomplete():
    script = hs.probe_script(["/etc/hostname"], [], [], {}, "@@t")
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert not hs.parse_probe(out.replace("@@t end", ""), "@@t")["complete"]


def test_carriage_returns_from_a_pty_are_dropped():
    out = "@@t paths\r\nA\t/x\r\n@@t end\r\n"
    assert hs.parse_probe(out, "@@t")["paths"]["/x"]["type"] == "absent"


OBSERVED_FILE = {"exists": True, "type": "file", "mode": "0644", "owner": "root", "group": "root",
                 "sha1": hs.sha1_of("x")}


def test_a_file_in_place_has_no_differences():
    assert hs.differences(file_item("/f"), OBSERVED_FILE, hs.sha1_of("x")) == []


@pytest.mark.parametrize("change, reason", [
    ({"mode": "0640"}, "mode 0640, not 0644"),
    ({"owner": "www-data"}, "owner www-data, not root"),
    ({"group": "adm"}, "group adm, not root"),
    ({"sha1": hs.sha1_of("y")}, "content differs"),
    ({"type": "directory", "sha1": None}, "is a directory, not a file"),
    ({"type": "absent"}, "absent"),
])
def test_each_file_difference_is_named(change, reason):
    assert reason in hs.differences(file_item("/f"), {**OBSERVED_FILE, **change}, hs.sha1_of("x"))


def test_an_empty_file_in_place():
    item = hs.check_table([{"concern": "c", "path": "/f", "content": "", "mode": "0644"}])[0]
    assert hs.differences(item, {**OBSERVED_FILE, "sha1": hs.sha1_of("")}, hs.sha1_of("")) == []


def test_directories_links_and_absent_paths():
    directory = hs.check_table([{"concern": "c", "path": "/d", "state": "directory", "mode": "0750",
                                 "owner": "app", "group": "www-data"}])[0]
    seen = {"exists": True, "type": "directory", "mode": "0750", "owner": "app", "group": "www-data", "sha1": None}
    assert hs.differences(directory, seen) == []
    assert hs.differences(directory, {**seen, "owner": "root"}) == ["owner root, not app"]
    link = hs.check_table([{"concern": "c", "path": "/l", "state": "link", "src": "/t"}])[0]
    assert hs.differences(link, {"exists": True, "type": "link", "target": "/t"}) == []
    assert hs.differences(link, {"exists": True, "type": "link", "target": "/u"}) == ["links to /u, not /t"]
    assert hs.differences(link, OBSERVED_FILE) == ["is a file, not a link"]
    absent = hs.check_table([{"concern": "c", "path": "/a", "state": "absent"}])[0]
    assert hs.differences(absent, {"exists": False, "type": "absent"}) == []
    assert hs.differences(absent, {"exists": True, "type": "link", "target": "/t"}) == ["exists (link)"]


def test_an_item_that_was_not_read_differs():
    assert hs.differences(file_item("/f"), None, hs.sha1_of("x")) == ["not read from the host"]


def test_link_targets_with_any_byte_are_read_exactly(tmp_path):
    """A target ending in CR or newline, or holding a line separator and a forged
    record, is neither cut short nor taken for another path's record."""
    victim = tmp_path / "victim"
    victim.write_text("x")
    targets = {"cr": "/etc/target\r", "nl": "/etc/target\n",
               "forged": "/x\u2028P\t%s\t81a4\troot\troot\t%s" % (victim, hs.sha1_of("forged"))}
    for name, target in targets.items():
        (tmp_path / name).symlink_to(target)
    state = read([victim] + [tmp_path / name for name in targets])
    for name, target in targets.items():
        assert state["paths"][str(tmp_path / name)]["target"] == target
    assert state["paths"][str(victim)]["sha1"] == hs.sha1_of("x")
    link = hs.check_table([{"concern": "c", "path": "/l", "state": "link", "src": "/etc/target"}])[0]
    assert hs.differences(link, state["paths"][str(tmp_path / "cr")]) != []


def test_a_path_that_cannot_be_examined_is_not_taken_for_absent(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "sudoers-file").write_text("x")
    state = read([private / "sudoers-file", private / "missing"], user="nobody")
    assert state["paths"][str(private / "sudoers-file")]["type"] == "unreadable"
    assert state["unreadable"] == [str(private / "sudoers-file"), str(private / "missing")]
    absent = hs.check_table([{"concern": "c", "path": "/a", "state": "absent"}])[0]
    assert hs.differences(absent, state["paths"][str(private / "sudoers-file")]) != []


def test_a_path_under_a_file_is_absent(tmp_path):
    (tmp_path / "file").write_text("x")
    assert read([tmp_path / "file" / "below"])["paths"][str(tmp_path / "file" / "below")]["type"] == "absent"


def test_command_output_without_a_final_newline_keeps_the_next_command(tmp_path):
    state = read(commands={"a": "printf abc", "b": "printf 'x\\n\\n'", "c": "true", "d": "echo hi >&2; exit 3"})
    assert state["commands"] == {"a": ["abc"], "b": ["x", ""], "c": [], "d": []}
    assert state["command_status"] == {"a": 0, "b": 0, "c": 0, "d": 3}


def test_a_hanging_command_is_cut_off(monkeypatch):
    monkeypatch.setattr(hs, "COMMAND_TIMEOUT", 1)
    state = read(commands={"slow": "sleep 5; echo late", "after": "echo on time"})
    assert state["command_status"]["slow"] == 124 and state["commands"]["slow"] == []
    assert state["commands"]["after"] == ["on time"] and state["complete"]


def test_commands_read_untranslated_output():
    assert read(commands={"lang": "echo $LC_ALL"})["commands"]["lang"] == ["C"]


@pytest.mark.parametrize("packages, units", [(["--admindir=/tmp"], []), (["Sudo"], []), ([], ["a b"]), ([], ["$(x)"])])
def test_package_and_unit_names_are_checked(packages, units):
    with pytest.raises(hs.TableError):
        hs.probe_script([], packages, units, {}, "@@t")


def test_a_path_reported_twice_is_refused():
    with pytest.raises(hs.ProbeError, match="reported twice"):
        hs.parse_probe("@@t paths\nA\t/x\nA\t/x\n@@t end\n", "@@t")
