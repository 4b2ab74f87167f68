"""Turn one bin/bench run (the files in .bench/run/) into the results table.

bin/bench imports it and calls build(); by hand, for a kept run directory:

    python3 bench/report.py RUN_DIR OUTPUT.md

Reads values.tsv (what bin/bench recorded), the ansible-playbook logs (with the
ansible.posix profile_tasks, profile_roles and timer callbacks), wrk's output
and tls_handshakes.py's JSON. Prints the Markdown table and writes it to
OUTPUT.md. Standard library only; a part that was not run is left out.
"""

import json
import re
import sys
from pathlib import Path

# bench/ is a folder of scripts, not a package: its sibling module by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pyspy_summary import summarise  # noqa: E402

TARGETS = {
    "converge_ratio": 1.5,  # fresh converge within 1.5x the floor
    "rerun_seconds": 15.0,  # idempotent one-host re-run under 15 s
    "fleet_ratio": 1.5,  # 4 hosts under 1.5x one host
    "proxy_throughput": 0.9,  # through nginx at least 0.9x direct gunicorn
    "proxy_p99": 1.2,  # p99 not more than 1.2x
    "baseline_ratio": 1.0,  # the re-run no slower than the baseline revision's (medians)
}

RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")
TIMING = re.compile(r"^(?P<name>.+?) -*\s*(?P<seconds>\d+\.\d{2})s$")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
UNITS_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def read_values(run):
    values = {}
    path = run / "values.tsv"
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("\t")
            values[key] = value
    return values


def section(lines, title):
    """Lines of a callback's summary: after the banner and the === line, until a blank/banner/~~~ line."""
    out, state = [], 0
    for line in lines:
        if state == 0 and line.startswith(title):
            state = 1
        elif state == 1 and line.startswith("====="):
            state = 2
        elif state == 2:
            if not line.strip() or line.startswith("~~~~") or re.match(r"^[A-Z ]+ \*{3}", line):
                break
            out.append(line)
    return out


def timings(lines):
    result = []
    for line in lines:
        match = TIMING.match(line.rstrip())
        if match:
            result.append((match["name"].strip(), float(match["seconds"])))
    return result


def parse_playbook(path):
    """Host recap counts, task timings (slowest first) and role timings of one log."""
    if not path.exists():
        return None
    lines = path.read_text(errors="replace").splitlines()
    hosts = {}
    in_recap = False
    for line in lines:
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            match = RECAP.match(line.strip())
            if match:
                hosts[match["host"]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
            elif line.strip():
                in_recap = False
    timer = next((m.group(0) for line in lines for m in [re.search(r"Playbook run took .*", line)] if m), "")
    return {
        "hosts": hosts,
        "tasks": timings(section(lines, "TASKS RECAP")),
        "roles": timings(section(lines, "ROLES RECAP")),
        "timer": timer,
    }


def parse_wrk(path):
    if not path.exists():
        return None
    text = path.read_text()
    result = {"errors": 0, "non2xx": 0}
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    result["rps"] = float(match.group(1)) if match else 0.0
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        result[f"p{pct}"] = float(value) * UNITS_MS[unit]
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", text)
    if match:
        result["requests"] = int(match.group(1))
        size = float(match.group(4)) * UNITS_BYTES.get(match.group(5), 1)
        result["bytes_per_request"] = size / max(1, int(match.group(1)))
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if match:
        result["non2xx"] = int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if match:
        result["errors"] = sum(int(x) for x in match.groups())
    return result


def parse_json(path):
    if not path.exists() or not path.read_text().strip():
        return None
    return json.loads(path.read_text())


def audit_rows(values, run, rerun):
    """The audit of the converged host, beside the re-run (bin/bench rerun runs both)."""
    audit = seconds(values, "audit")
    if audit is None:
        return []
    report = run / "audit-report" / "audit.json"
    summary = json.loads(report.read_text())["summary"] if report.exists() else {}
    note = (f"{sum(summary.get(k, 0) for k in ('pass', 'fail', 'skip'))} controls: {summary.get('pass', 0)} pass, "
            f"{summary.get('fail', 0)} fail, {summary.get('skip', 0)} skip") if summary else "no report"
    note += "" if ok_run(values, "audit") else ", FAILED"
    return [("2", "Audit of the converged host (playbooks/audit.yml)", f"{audit:.1f} s ({note}{cpu(values, 'audit')})",
             f"the re-run: {rerun:.1f} s", fmt_ratio(ratio(audit, rerun)), "—", "—")]


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}×"


def met(ok):
    return "—" if ok is None else ("yes" if ok else "**no**")


def seconds(values, name):
    value = values.get(f"{name}.seconds")
    return float(value) if value not in (None, "") else None


def fleet_round_runs(number):
    """The names bin/bench gives round NUMBER's runs (1 host, 4 hosts): fleet1/fleet4,
    then fleet1-2/fleet4-2 and on."""
    suffix = "" if number == 1 else f"-{number}"
    return f"fleet1{suffix}", f"fleet4{suffix}"


def fleet_rounds(values):
    """The fleet part's timed rounds, in order, as (1-host run, 4-host run, seconds, seconds);
    a round missing either run ends them."""
    rounds, number = [], 1
    while True:
        name1, name4 = fleet_round_runs(number)
        one, four = seconds(values, name1), seconds(values, name4)
        if one is None or four is None:
            return rounds
        rounds.append((name1, name4, one, four))
        number += 1


def ok_run(values, name):
    return values.get(f"{name}.rc", "0") == "0"


def cpu(values, name):
    """The machine's CPU busy during a run, as text: ", CPU 87% of 2 cores"."""
    value = values.get(f"{name}.cpu")
    return f", CPU {value}% of {values.get('cores', '?')} cores" if value else ""


def task_counts(playbook):
    """Tasks in the profile (unique tasks started) and the summed recap counts."""
    totals = {}
    for counts in playbook["hosts"].values():
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return len(playbook["tasks"]), totals


def cost_rows(values, run):
    """Where one task's time goes: per item of bench/costs.yml's three loops."""
    items = int(values.get("costs.items", "0") or 0)
    book = parse_playbook(run / "costs.log")
    if not items or not book or not ok_run(values, "costs"):
        return []
    per = {name: secs / items * 1000 for name, secs in book["tasks"]}
    raw = per.get("Cost of an SSH round trip (raw, no Python)")
    module = per.get("Cost of a Python module (ping)")
    become = per.get("Cost of a Python module with become (ping, sudo)")
    if None in (raw, module, become):
        return []
    return [("2", f"One task's cost, {items} items each: raw command over SSH / Python module / module with become",
             f"{raw:.0f} / {module:.0f} / {become:.0f} ms per item",
             "python3 + AnsiballZ start per module run: module − raw", f"{module / raw:.1f}× raw", "—", "—")]


def median(items):
    items = sorted(x for x in items if x is not None)
    if not items:
        return None
    mid = len(items) // 2
    return items[mid] if len(items) % 2 else (items[mid - 1] + items[mid]) / 2


def rerun_clean(rc, counts):
    """Whether a re-run is one to time: exit 0, its host's recap without failures, changed 0."""
    return (rc in (0, "0") and bool(counts) and counts.get("unreachable", 1) == 0
            and counts.get("failed", 1) == 0 and counts.get("changed", 1) == 0)


def baseline_runs(values, run):
    """The baseline part's timed re-runs, {"baseline": [...], "current": [...]}, each in order a dict:
    number, seconds, clean, counts (the recap's, summed over hosts), tasks, roles, load, cpu,
    logins, waited."""
    out = {"baseline": [], "current": []}
    number = 1
    while any(f"rerun-{side}-{number}.seconds" in values for side in out):
        for side, runs in out.items():
            name = f"rerun-{side}-{number}"
            secs = seconds(values, name)
            if secs is None:
                continue
            book = parse_playbook(run / f"{name}.log") or {"hosts": {}, "tasks": [], "roles": []}
            ntasks, totals = task_counts(book)
            rc = values.get(f"{name}.rc", "")
            clean = rerun_clean(rc, totals) and len(book["hosts"]) == 1
            runs.append({"number": number, "seconds": secs, "clean": clean,
                         "rc": rc, "counts": totals, "tasks": ntasks, "roles": book["roles"],
                         "load": values.get(f"{name}.load", ""), "cpu": values.get(f"{name}.cpu", ""),
                         "logins": values.get(f"{name}.logins", ""), "waited": values.get(f"{name}.waited", "")})
        number += 1
    return out


def run_list(runs):
    """Each run's seconds in order, a failed one marked: '22.6, 21.3 (FAILED: changed 2), 20.9'."""
    def one(r):
        if r["clean"]:
            return f"{r['seconds']:.1f}"
        why = f"rc {r['rc']}" if r["rc"] not in ("0", "") else \
            ", ".join(f"{k} {r['counts'].get(k, '?')}" for k in ("changed", "failed", "unreachable")
                      if r["counts"].get(k, 1) != 0)
        return f"{r['seconds']:.1f} (FAILED: {why or 'no recap'})"
    return ", ".join(one(r) for r in runs)


def tasks_note(runs):
    """The task counts of a revision's re-run (its first clean run, else its first)."""
    if not runs:
        return "no run"
    r = next((r for r in runs if r["clean"]), runs[0])
    c = r["counts"]
    return (f"{r['tasks']} tasks; ok {c.get('ok', 0)}, changed {c.get('changed', 0)}, "
            f"skipped {c.get('skipped', 0)}")


def baseline_row(values, runs):
    """The row "Re-run: current vs baseline REV": medians of the clean runs, their ratio, each run."""
    rev = values.get("baseline.rev", "?")
    current, base = runs["current"], runs["baseline"]
    cur_median = median(r["seconds"] for r in current if r["clean"])
    base_median = median(r["seconds"] for r in base if r["clean"])
    r = ratio(cur_median, base_median)
    clean = bool(current) and bool(base) and all(x["clean"] for x in current + base)

    def value(runs_, med):
        shown = "—" if med is None else f"{med:.1f} s"
        return f"{shown} (runs {run_list(runs_)}; {tasks_note(runs_)})"
    return ("2", f"Re-run: current vs baseline {rev} (median of {len(current)} vs {len(base)} runs, "
                 f"alternating, each host converged and re-run by its own revision)",
            value(current, cur_median) + ("" if clean else ", FAILED"),
            f"baseline {rev}: {value(base, base_median)}",
            fmt_ratio(r), f"≤ {TARGETS['baseline_ratio']:.2f}×, changed 0",
            met(clean and r is not None and r <= TARGETS["baseline_ratio"]))


def baseline_tables(values, runs):
    """Markdown lines: every timed run in order, then each role's median seconds on both revisions."""
    rev = values.get("baseline.rev", "?")
    out = [f"## Re-run, current vs baseline {rev}: each run, in the order taken", "",
           f"Baseline: `{values.get('baseline.ref', '?')}` = {rev} {values.get('baseline.subject', '')}; "
           f"current: {values.get('baseline.current', '?')}.", "",
           "| Run | Revision | Seconds | Recap | Tasks | loadavg at start | CPU | SSH logins | ufw wait before |",
           "|---|---|---:|---|---:|---|---:|---:|---:|"]
    for conv in ("baseline-converge-current", "baseline-converge-baseline"):
        secs = seconds(values, conv)
        if secs is not None:
            side = conv.rsplit("-", 1)[1]
            out.append(f"| converge (untimed) | {side} | {secs:.1f} | rc {values.get(f'{conv}.rc', '?')} | | "
                       f"{values.get(f'{conv}.load', '')} | {values.get(f'{conv}.cpu', '')}% | | |")
    ordered = sorted((r["number"], side != "baseline", side, r) for side in runs for r in runs[side])
    for number, _, side, r in ordered:
        c = r["counts"]
        recap = (f"ok {c.get('ok', '?')}, changed {c.get('changed', '?')}, skipped {c.get('skipped', '?')}"
                 + ("" if r["clean"] else ", **FAILED**"))
        out.append(f"| {number} | {side} | {r['seconds']:.1f} | {recap} | {r['tasks']} | {r['load']} | "
                   f"{r['cpu']}% | {r['logins']} | {r['waited']} s |")
    out.append("")
    roles = {}
    for side in ("current", "baseline"):
        per_role = {}
        for r in runs[side]:
            if r["clean"]:
                for name, secs in r["roles"]:
                    per_role.setdefault(name, []).append(secs)
        roles[side] = {name: median(times) for name, times in per_role.items()}
    names = sorted(set(roles["current"]) | set(roles["baseline"]),
                   key=lambda n: -max(roles["current"].get(n, 0), roles["baseline"].get(n, 0)))
    if names:
        out += [f"## Re-run, current vs baseline {rev}: median seconds per role (profile_roles, clean runs)", "",
                f"| Role | current | baseline {rev} |", "|---|---:|---:|"]
        for name in names:
            cells = [f"{roles[side][name]:.2f}" if name in roles[side] else "—" for side in ("current", "baseline")]
            out.append(f"| {name.replace('|', '/')} | {cells[0]} | {cells[1]} |")
        out.append("")
    return out


def build(run):
    values = read_values(run)
    rows, extra = [], []
    cores = int(values.get("cores", "2") or 2)

    # 1. Fresh converge vs floor.
    converge, floor = seconds(values, "converge"), seconds(values, "floor")
    if converge is not None:
        r = ratio(converge, floor)
        book = parse_playbook(run / "converge.log")
        ntasks, totals = task_counts(book)
        note = f"{ntasks} tasks, changed {totals.get('changed', 0)}" + ("" if ok_run(values, "converge") else ", FAILED")
        rows.append(("1", "Fresh converge: site.yml over SSH, bootstrap as root", f"{converge:.1f} s ({note})",
                     f"floor: apt-get install + venv + pip install in a fresh container, {floor:.1f} s",
                     fmt_ratio(r), f"≤ {TARGETS['converge_ratio']}×",
                     met(r is not None and r <= TARGETS["converge_ratio"] and ok_run(values, "converge"))))
        extra.append(("Fresh converge: time per role (profile_roles)", book["roles"][:12]))
        extra.append(("Fresh converge: slowest tasks (profile_tasks)", book["tasks"][:12]))

    # 2. Idempotent re-run.
    rerun = seconds(values, "rerun")
    if rerun is not None:
        book = parse_playbook(run / "rerun.log")
        ntasks, totals = task_counts(book)
        note = (f"{ntasks} tasks; ok {totals.get('ok', 0)}, changed {totals.get('changed', 0)}, "
                f"skipped {totals.get('skipped', 0)}") + ("" if ok_run(values, "rerun") else ", FAILED")
        good = ok_run(values, "rerun") and totals.get("changed", 0) == 0
        rows.append(("2", "Idempotent re-run of site.yml, 1 host", f"{rerun:.1f} s ({note}{cpu(values, 'rerun')})",
                     "—", "—",
                     f"< {TARGETS['rerun_seconds']:.0f} s, changed 0",
                     met(good and rerun < TARGETS["rerun_seconds"])))
        noop, noop_tasks = seconds(values, "noop"), int(values.get("noop.tasks", "0") or 0)
        if noop is not None and noop_tasks and ok_run(values, "noop"):
            rows.append(("2", f"Per-task floor, right after: {noop_tasks} trivial tasks (ping, become) on the same host",
                         f"{noop:.1f} s ({noop / noop_tasks:.2f} s/task{cpu(values, 'noop')})",
                         f"the re-run: {rerun:.1f} s",
                         fmt_ratio(ratio(rerun, noop)), "—", "—"))
        rows += cost_rows(values, run)
        rows += audit_rows(values, run, rerun)
        extra.append(("Idempotent re-run: time per role (profile_roles)", book["roles"]))
        extra.append(("Idempotent re-run: slowest tasks (profile_tasks)", book["tasks"][:15]))

    # Optional: the re-run under Mitogen, beside a plain one.
    plain, mito = seconds(values, "mitogen-plain"), seconds(values, "mitogen")
    if plain is not None and mito is not None:
        _, totals = task_counts(parse_playbook(run / "mitogen.log"))
        ok = ok_run(values, "mitogen") and ok_run(values, "mitogen-plain")
        rows.append(("2", "Re-run under Mitogen's strategy (measured, not adopted)",
                     f"{mito:.1f} s (changed {totals.get('changed', 0)}{'' if ok else ', FAILED'}; "
                     f"{values.get('mitogen.logins.mitogen', '?')} SSH logins)",
                     f"plain re-run, just before: {plain:.1f} s ({values.get('mitogen.logins.plain', '?')} SSH logins)",
                     fmt_ratio(ratio(mito, plain)), "—", "—"))

    # Optional: the re-run under py-spy (bin/bench profile), the controller's side.
    raw = run / "profile.raw"
    if raw.exists() and seconds(values, "profile") is not None:
        rate = int(values.get("profile.rate", "100") or 100)
        prof = summarise(raw, rate)
        rows.append(("2", "Re-run under py-spy (the controller's processes; sampling slows it)",
                     f"{seconds(values, 'profile'):.1f} s: main process {prof['main_busy']:.1f} s busy, "
                     f"{prof['main_idle']:.1f} s waiting; workers {prof['worker_busy']:.1f} s busy"
                     + ("" if ok_run(values, "profile") else ", FAILED"),
                     f"{rate} samples/s", "—", "—", "—"))
        extra.append(("Re-run under py-spy: the controller's busy time, by where it went", prof["categories"]))

    # Optional: the re-run of this checkout vs a baseline revision's (bin/bench baseline).
    compare = []
    runs = baseline_runs(values, run)
    if runs["current"] or runs["baseline"]:
        rows.append(baseline_row(values, runs))
        compare = baseline_tables(values, runs)

    # 3. Fleet re-run.
    rounds = fleet_rounds(values)
    if rounds:
        r = ratio(sum(four for _, _, _, four in rounds), sum(one for _, _, one, _ in rounds))
        books4 = [parse_playbook(run / f"{name4}.log") for _, name4, _, _ in rounds]
        book4 = books4[0]
        changed = sum(task_counts(book)[1].get("changed", 0) for book in books4)
        ok = all(ok_run(values, name1) and ok_run(values, name4) for name1, name4, _, _ in rounds)
        settled = seconds(values, "fleet-settle")
        settle = "" if settled is None else f" (the untimed settling run of the same 4 hosts: {settled:.1f} s)"
        rows.append(("3", f"Fleet re-run, 4 hosts (3 web + app, 1 db), {len(rounds)} rounds of 1 host then 4",
                     ", ".join(f"{four:.1f} s" for _, _, _, four in rounds)
                     + f" (changed {changed}{'' if ok else ', FAILED'}{cpu(values, 'fleet4')})",
                     "1 host, just before each: " + ", ".join(f"{one:.1f} s" for _, _, one, _ in rounds)
                     + cpu(values, "fleet1") + settle,
                     fmt_ratio(r) + " (sums)", f"< {TARGETS['fleet_ratio']}×",
                     met(ok and r is not None and r < TARGETS["fleet_ratio"])))
        extra.append(("Fleet re-run (4 hosts): time per role (profile_roles)", book4["roles"]))
        extra.append(("Fleet re-run (4 hosts): slowest tasks (profile_tasks)", book4["tasks"][:10]))

    # 4. Served stack.
    proxies = [parse_wrk(run / f"served-proxy{s}.txt") for s in ("", "2", "3")]
    directs = [parse_wrk(run / f"served-direct{s}.txt") for s in ("", "2", "3")]
    proxies, directs = [p for p in proxies if p], [d for d in directs if d]
    if proxies and directs:
        p_rps, d_rps = median(p["rps"] for p in proxies), median(d["rps"] for d in directs)
        p_p99, d_p99 = median(p.get("p99") for p in proxies), median(d.get("p99") for d in directs)
        bad = sum(x["non2xx"] + x["errors"] for x in proxies + directs)
        workers = f"{values.get('served.workers.proxy', '?')} vs {values.get('served.workers.direct', '?')} workers"
        pairs = ", ".join(f"{p['rps']:.0f}/{d['rps']:.0f}" for p, d in zip(proxies, directs))
        r = ratio(p_rps, d_rps)
        rows.append(("4", "HTTPS req/s, nginx → gunicorn (unix socket) → `/` (median of the runs)",
                     f"{p_rps:.0f} req/s (runs proxy/direct: {pairs})",
                     f"gunicorn direct (HTTP, 127.0.0.1, {workers}): {d_rps:.0f} req/s",
                     fmt_ratio(r), f"≥ {TARGETS['proxy_throughput']}×",
                     met(r is not None and r >= TARGETS["proxy_throughput"] and bad == 0)))
        r = ratio(p_p99, d_p99)
        p99s = ", ".join(f"{p.get('p99', 0):.0f}/{d.get('p99', 0):.0f}" for p, d in zip(proxies, directs))
        rows.append(("4", "p99 latency, same runs (median)", f"{p_p99:.1f} ms (runs proxy/direct: {p99s})",
                     f"direct: {d_p99:.1f} ms",
                     fmt_ratio(r), f"≤ {TARGETS['proxy_p99']}×", met(r is not None and r <= TARGETS["proxy_p99"])))
        if bad:
            rows.append(("4", "**non-2xx/3xx responses or socket errors in the runs above**", str(bad),
                         "", "", "", "**no**"))
        static = parse_wrk(run / "served-static.txt")
        if static:
            rows.append(("4", f"Static file req/s, nginx over HTTPS (`{values.get('served.static_path', '')}`)",
                         f"{static['rps']:.0f} req/s, p99 {static.get('p99', 0):.1f} ms",
                         f"vs the app page through nginx: {p_rps:.0f} req/s",
                         fmt_ratio(ratio(static["rps"], p_rps)), "—", "—"))
    for tls in ("1.3", "1.2"):
        new, reuse = parse_json(run / f"tls-{tls}-new.json"), parse_json(run / f"tls-{tls}-reuse.json")
        if new and reuse:
            rows.append(("4", f"TLS {tls} connections/s, session resumed vs full handshake "
                              f"({new.get('procs', 1)} client processes, one HEAD each)",
                         f"{reuse['per_second']:.0f}/s ({reuse['resumed']}/{reuse['connections']} resumed)",
                         f"full handshake: {new['per_second']:.0f}/s",
                         fmt_ratio(ratio(reuse["per_second"], new["per_second"])), "—", "—"))

    out = ["# bin/bench results", ""]
    out.append("| # | Measure | Value | Against | Ratio | Target | Met |")
    out.append("|---|---|---|---|---|---|---|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out.append("")

    loads = {k: v for k, v in values.items() if k.endswith(".load") or k.startswith("load.")}
    peak = max((float(v.split()[0]) for v in loads.values() if v), default=0.0)
    others = max(int(values.get("others", "0") or 0), int(values.get("others.end", "0") or 0))
    out.append("## Conditions")
    out.append("")
    out.append(f"- {values.get('date', '?')}, Debian {values.get('suite', '?')} hosts, {cores} cores, "
               f"{values.get('ansible', '')}; parts: {values.get('parts', '')}")
    if "served.static_path" in values:
        out.append(f"- load: wrk -t2 -c{values.get('connections', '?')}, {values.get('duration', '?')} s per run "
                   f"after a 2 s warm-up, run inside the bench host (loopback); nginx workers: "
                   f"{values.get('served.nginx_workers', '?')}")
    out.append(f"- loadavg at start {values.get('load.start', '?')}, end {values.get('load.end', '?')}, "
               f"highest 1-min value seen {peak:.2f}; other containers running: {others}")
    # The bench loads the machine itself (ansible, apt, wrk): judge other work
    # by the load before it started and by containers that are not its own.
    start = float((values.get("load.start") or "0").split()[0])
    if start > cores * 0.5 or others > 0:
        out.append(f"- **Taken under load**: the machine was busy with other work (1-min loadavg {start:.2f} at "
                   f"the start on {cores} cores, {others} other containers); absolute numbers are pessimistic, "
                   "the side-by-side ratios less so.")
    out.append("")

    out += compare
    for title, items in extra:
        if not items:
            continue
        out.append(f"## {title}")
        out.append("")
        out.append("| Seconds | " + ("Where" if title.startswith("Re-run under py-spy") else "Task / role") + " |")
        out.append("|---:|---|")
        out += [f"| {secs:.2f} | {name.replace('|', '/')} |" for name, secs in items]
        out.append("")
    return "\n".join(out)


def main():
    run, output = Path(sys.argv[1]), Path(sys.argv[2])
    text = build(run)
    output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
