# Copyright: the hardening.stack authors. MIT License.
"""Controls of the audit playbook (playbooks/audit.yml): compare what a host
shows with what its inventory asks for, and say pass, fail or skip.

Each role declares its controls once, in one table (`ROLE_controls` in
roles/ROLE/vars/main.yml), read by its tasks/controls.yml:

    - id: firewall.active           # GROUP.NAME, unique per host
      title: UFW is active
      observed: "{{ ufw_state.commands.status | first | default('') }}"
      expected: "Status: active"
      compare: equal                # or at_most / at_least (numbers)
      skip: ""                      # a reason: the control does not apply here

`audit_controls` turns the table into results. The other filters shape raw
reads (sshd -T lines, authorized_keys, ss, systemd-analyze, manage.py check)
into values that can be compared and shown in a report. Pure Python
(standard library and the state mechanism's table check):
tests/unit/test_audit_filters.py loads this file by path.
"""

import importlib.util
import ipaddress
import pathlib
import re

# The state mechanism's table check, loaded from beside this file: the same
# code whether Ansible loads this filter from the collection or a unit test
# loads it by path (an early `ansible_collections` import would shadow the
# collection loader in the tests' process).
_SPEC = importlib.util.spec_from_file_location(
    "hardening_stack_host_state", pathlib.Path(__file__).resolve().parents[1] / "plugin_utils" / "host_state.py")
_HOST_STATE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_HOST_STATE)
check_table = _HOST_STATE.check_table

COMPARES = ("equal", "at_most", "at_least")
STATUSES = ("pass", "fail", "skip")
ID_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$")
# user:password@ (or a token@) in a URL.
CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


class ControlError(ValueError):
    """A control table row that cannot be evaluated (a bug in the table, not drift)."""


def _number(value):
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, (int, float)):
        return value
    return float(str(value).strip())


def _passes(compare, observed, expected):
    if compare == "equal":
        return observed == expected
    try:
        observed_n, expected_n = _number(observed), _number(expected)
    except ValueError:
        return False  # "never", "unknown": not a number, so not within the bound
    return observed_n <= expected_n if compare == "at_most" else observed_n >= expected_n


def audit_controls(table):
    """Results ({id, group, title, status, observed, expected}) for a role's control table."""
    results, seen = [], set()
    for row in table or []:
        if not isinstance(row, dict) or not ID_RE.match(str(row.get("id", ""))):
            raise ControlError(f"audit control without a valid id (GROUP.NAME): {row!r}")
        control = row["id"]
        if control in seen:
            raise ControlError(f"audit control {control} is declared twice")
        seen.add(control)
        compare = row.get("compare", "equal")
        if compare not in COMPARES:
            raise ControlError(f"audit control {control}: compare must be one of {', '.join(COMPARES)}")
        for key in ("title", "observed", "expected"):
            if key not in row:
                raise ControlError(f"audit control {control} has no {key}")
        skip = row.get("skip") or ""
        observed, expected = row["observed"], row["expected"]
        if skip:
            status, observed = "skip", str(skip)
        else:
            status = "pass" if _passes(compare, observed, expected) else "fail"
        results.append({"id": control, "group": control.split(".", 1)[0], "title": str(row["title"]),
                        "status": status, "observed": observed,
                        "expected": expected if compare == "equal" else f"{compare.replace('_', ' ')} {expected}"})
    return results


def sshd_effective(lines, keywords):
    """{keyword: value} for the keywords, from `SOURCE keyword value` lines (sshd -T per source).

    A keyword whose value differs between sources shows every value,
    `SOURCE=value` joined by ` | `, so a Match block that reopens a door for
    one source shows up (and never equals the wanted value). A keyword sshd
    did not print shows as "(unset)".
    """
    per_keyword = {}
    for line in lines or []:
        parts = str(line).split(None, 2)
        if len(parts) < 2:
            continue
        source, keyword = parts[0], parts[1].lower()
        value = parts[2].strip() if len(parts) == 3 else ""
        per_keyword.setdefault(keyword, {}).setdefault(source, []).append(value)
    result = {}
    for keyword in keywords:
        sources = per_keyword.get(keyword.lower(), {})
        values = {source: " ".join(vals) for source, vals in sources.items()}
        distinct = sorted(set(values.values()))
        if not distinct:
            result[keyword] = "(unset)"
        elif len(distinct) == 1:
            result[keyword] = distinct[0]
        else:
            result[keyword] = " | ".join(f"{source}={value}" for source, value in sorted(values.items()))
    return result


def _key_label(line):
    """`TYPE …last 12 of the key… COMMENT` for an authorized_keys line (options dropped), or None."""
    fields = str(line).split()
    for index, field in enumerate(fields):
        if field.startswith(("ssh-", "ecdsa-", "sk-")) and index + 1 < len(fields):
            label = f"{field} …{fields[index + 1][-12:]}"
            return label + (f" {' '.join(fields[index + 2:])}" if len(fields) > index + 2 else "")
    return None


def _key_id(line):
    fields = str(line).split()
    for index, field in enumerate(fields):
        if field.startswith(("ssh-", "ecdsa-", "sk-")) and index + 1 < len(fields):
            return f"{field} {fields[index + 1]}"
    return None


def authorized_keys_audit(lines, admins, exclusive=True):
    """{observed, expected}: per admin, the keys found and the keys the inventory lists.

    lines: `USER KEYLINE` for each line of each admin's authorized_keys.
    Keys are compared by type and base64 (comments and options aside) and
    shown short. Without exclusive keys, keys the inventory does not list
    are the user's business and left out of the comparison.
    """
    found = {}
    for line in lines or []:
        user, _, key = str(line).partition(" ")
        if key.strip() and not key.lstrip().startswith("#") and _key_id(key):
            found.setdefault(user, []).append(key)
    observed, expected = {}, {}
    for admin in admins or []:
        name = admin["name"]
        wanted = {_key_id(key): _key_label(key) for key in admin.get("authorized_keys", []) if _key_id(key)}
        have = {_key_id(key): _key_label(key) for key in found.get(name, [])}
        if not exclusive:
            have = {key: label for key, label in have.items() if key in wanted}
        # Labels of wanted keys come from the inventory, so a comment changed on the host is no drift.
        observed[name] = sorted(wanted.get(key, label) for key, label in have.items())
        expected[name] = sorted(wanted.values())
    return {"observed": observed, "expected": expected}


def exposed_listeners(lines, rules):
    """`PROTO ADDRESS:PORT (process)` for each socket listening beyond loopback on a port
    and protocol no firewall rule admits. lines: `ss -Hltunp` output; rules: the
    declared rules ({port: "22" or "8000:8010", proto: tcp|udp|any})."""
    allowed = set()
    for rule in rules or []:
        low, _, high = str(rule["port"]).partition(":")
        protos = ("tcp", "udp") if rule.get("proto", "tcp") == "any" else (rule.get("proto", "tcp"),)
        allowed.update((proto, port) for proto in protos for port in range(int(low), int(high or low) + 1))
    exposed = set()
    for line in lines or []:
        fields = str(line).split()
        if len(fields) < 5:
            continue
        proto, local = fields[0], fields[4]
        address, _, port = local.rpartition(":")
        address = address.strip("[]").split("%", 1)[0]
        if not port.isdigit():
            continue
        try:
            if address not in ("*", "0.0.0.0", "::") and ipaddress.ip_address(address).is_loopback:
                continue
        except ValueError:
            pass
        if (proto, int(port)) not in allowed:
            process = re.search(r'\(\("([^"]+)"', line)
            exposed.add(f"{proto} {local}" + (f" ({process.group(1)})" if process else ""))
    return sorted(exposed)


def header_values(headers, names):
    """{Name: its values joined by ", ", or "(missing)"} from {lower-case name: [values]}."""
    return {name: ", ".join(headers.get(str(name).lower(), [])) or "(missing)" for name in names}


def answer_headers(answers, names):
    """{label: {Name: values joined, or "(missing)"}} for each answer ({label: {status, headers}})."""
    return {label: header_values(answer.get("headers") or {}, names) for label, answer in (answers or {}).items()}


def exposure_score(lines):
    """The overall exposure (a number) from `systemd-analyze security UNIT` output, or "unknown"."""
    for line in reversed(lines or []):
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", str(line))
        if match:
            return float(match.group(1))
    return "unknown"


def django_check_result(lines, status):
    """What `manage.py check --deploy` found: "no issues", or the message ids it reported
    (security.W018, …), or its last line when it failed without any."""
    ids = sorted(set(re.findall(r"\(([a-z_]+\.[EWC]\d{3})\)", "\n".join(map(str, lines or [])))))
    if ids:
        return ids
    if int(status) == 0:
        return "no issues"
    tail = [str(line) for line in lines or [] if str(line).strip()]
    # The app's own output goes into the report: a URL's credentials never do.
    return CREDENTIALS.sub(r"\1***@", tail[-1]) if tail else f"failed (status {status})"


def mode_drift(items, paths, concerns):
    """{path: "what differs"} for the managed items of the concerns whose type, owner,
    group, mode or link target on the host is not what the table declares (file
    contents aside: the role's own run compares those)."""
    drift = {}
    for item in check_table(items or [], "audit"):
        if item["concern"] not in concerns:
            continue
        path, wanted_type = item["path"], item["state"]
        state = paths.get(path) or {"type": "absent"}
        if state.get("type") != wanted_type:
            drift[path] = f"{state.get('type')}, not {wanted_type}"
        elif wanted_type == "link" and state.get("target") != item["src"]:
            drift[path] = f"links to {state.get('target')} (not {item['src']})"
        elif wanted_type in ("file", "directory"):
            differs = [f"{key} {state.get(key)} (not {item[key]})" for key in ("owner", "group", "mode")
                       if str(state.get(key)) != str(item[key])]
            if differs:
                drift[path] = ", ".join(differs)
    return drift


FILTERS = {
    "audit_controls": audit_controls,
    "sshd_effective": sshd_effective,
    "authorized_keys_audit": authorized_keys_audit,
    "exposed_listeners": exposed_listeners,
    "header_values": header_values,
    "answer_headers": answer_headers,
    "exposure_score": exposure_score,
    "django_check_result": django_check_result,
    "mode_drift": mode_drift,
}


class FilterModule:
    """Filters of the audit playbook."""

    def filters(self):
        return dict(FILTERS)
