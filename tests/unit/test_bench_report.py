"""bench/report.py turns a bin/bench run directory into the results table.

The logs here have the shape ansible.posix's profile_tasks callback and
bin/bench's values.tsv give them; the numbers are chosen so each row's
arithmetic can be checked by hand.
"""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
report = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(report)

RECAP = """
PLAY RECAP *********************************************************************
bench-host                 : ok={ok}   changed={changed}    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0

TASKS RECAP ********************************************************************
Monday 23 November 2026  13:05:42 +0000 (0:00:05.245)       0:00:14.713 *******
===============================================================================
{tasks}
"""


def playbook_log(tasks, ok=60, changed=0):
    lines = "\n".join(f"{name} {'-' * (70 - len(name))} {secs:.2f}s" for name, secs in tasks)
    return RECAP.format(ok=ok, changed=changed, tasks=lines)


def write_run(tmp_path, values, logs):
    (tmp_path / "values.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in values.items()))
    for name, text in logs.items():
        (tmp_path / f"{name}.log").write_text(text)
    return tmp_path


def rows(text):
    return [line for line in text.splitlines() if line.startswith("| ")]


def test_task_cost_split_is_per_item(tmp_path):
    costs = playbook_log([
        ("Cost of a Python module with become (ping, sudo)", 5.20),
        ("Cost of a Python module (ping)", 5.00),
        ("Cost of an SSH round trip (raw, no Python)", 0.80),
    ])
    run = write_run(tmp_path, {"cores": "2", "rerun.seconds": "40.0", "rerun.rc": "0", "rerun.cpu": "53",
                               "costs.items": "20", "costs.seconds": "12.0", "costs.rc": "0"},
                    {"rerun": playbook_log([("ufw : Install UFW", 1.0)]), "costs": costs})
    text = report.build(run)
    cost = next(row for row in rows(text) if "One task's cost" in row)
    assert "40 / 250 / 260 ms per item" in cost
    assert "6.2× raw" in cost
    rerun = next(row for row in rows(text) if "Idempotent re-run" in row)
    assert "CPU 53% of 2 cores" in rerun


def test_cost_split_is_left_out_when_its_run_failed(tmp_path):
    costs = playbook_log([("Cost of a Python module (ping)", 5.00)])
    run = write_run(tmp_path, {"rerun.seconds": "40.0", "rerun.rc": "0",
                               "costs.items": "20", "costs.rc": "2"},
                    {"rerun": playbook_log([("ufw : Install UFW", 1.0)]), "costs": costs})
    assert "One task's cost" not in report.build(run)


def test_mitogen_row_reports_ratio_and_logins(tmp_path):
    run = write_run(tmp_path, {"mitogen-plain.seconds": "40.0", "mitogen-plain.rc": "0",
                               "mitogen.seconds": "20.0", "mitogen.rc": "0",
                               "mitogen.logins.plain": "2", "mitogen.logins.mitogen": "5"},
                    {"mitogen": playbook_log([("ufw : Install UFW", 0.2)], changed=1)})
    row = next(row for row in rows(report.build(run)) if "Mitogen" in row)
    assert "20.0 s (changed 1; 5 SSH logins)" in row
    assert "40.0 s (2 SSH logins)" in row
    assert "0.50×" in row


WRK = """Running 10s test @ https://sandbox.test/
  2 threads and 10 connections
  Latency Distribution
     50%    6.30ms
     75%    9.30ms
     90%   17.66ms
     99%   {p99}
  {requests} requests in 10.04s, 12.87MB read
Requests/sec:   {rps}
Transfer/sec:      1.28MB
"""


def test_served_rows_take_each_paths_median(tmp_path):
    runs = {"served-proxy": ("220.62ms", 1308), "served-proxy2": ("32.42ms", 1301), "served-proxy3": ("30.00ms", 1290),
            "served-direct": ("31.21ms", 1411), "served-direct2": ("16.24ms", 1480), "served-direct3": ("20.00ms", 1400)}
    for name, (p99, rps) in runs.items():
        (tmp_path / f"{name}.txt").write_text(WRK.format(p99=p99, rps=rps, requests=rps * 10))
    run = write_run(tmp_path, {"served.workers.proxy": "5", "served.workers.direct": "5"}, {})
    served = [row for row in rows(report.build(run)) if row.startswith("| 4 ")]
    throughput, latency = served[0], served[1]
    assert "1301 req/s" in throughput and "1411 req/s" in throughput
    assert "0.92×" in throughput
    # Medians 32.4 vs 20.0 ms: the stalled 220 ms run is listed but does not decide.
    assert "32.4 ms (runs proxy/direct: 221/31, 32/16, 30/20)" in latency
    assert "1.62×" in latency and "**no**" in latency


def test_pyspy_profile_splits_the_controllers_time(tmp_path):
    main = "process 7:\"ansible-playbook\";<module> (ansible-playbook:6);CLI.cli_executor (cli/__init__.py:660)"
    strategy = main + ";StrategyModule.run (strategy/linear.py:220)"
    worker = strategy + (";StrategyBase._queue_task (strategy/__init__.py:400);Popen._launch (popen_fork.py:71)"
                         ";BaseProcess._bootstrap (process.py:314);WorkerProcess._run (worker.py:200)")
    raw = "\n".join([
        main + ";PlaybookCLI.run (cli/playbook.py:100);Loader.load (yaml.py:1) 30",  # start-up
        strategy + ";StrategyBase._wait_on_pending_results (strategy/__init__.py:796) 400",  # waiting
        strategy + ";StrategyBase._queue_task (strategy/__init__.py:400);Popen._launch (popen_fork.py:66) 20",
        worker + ";modify_module (module_common.py:1);recursive_finder (module_common.py:756)"
                 ";_compile_module_ast (module_common.py:851) 150",
        worker + ";TemplateEngine.template (_engine.py:1) 50",
        worker + ";Connection._recv (connection.py:395) 900",  # a worker waiting for the host
        "process 7:\"python3\";<module> (AnsiballZ_stat.py:1);_ansiballz_main (AnsiballZ_stat.py:2) 10",
    ]) + "\n"
    (tmp_path / "profile.raw").write_text(raw)
    prof = report.summarise(tmp_path / "profile.raw", 100)
    assert (prof["main_busy"], prof["main_idle"]) == (0.5, 4.0)
    assert prof["worker_busy"] == 2.1  # payload building, templating and the local module; waits left out
    where = dict(prof["categories"])
    assert where["building module payloads (AnsiballZ scans module_utils' source, once per module per run)"] == 1.5
    assert where["templating (Jinja)"] == 0.5
    assert where["forking a worker process per task and host"] == 0.2
    assert where["modules run on the controller itself (delegate_to: localhost)"] == 0.1
    assert where["start-up: imports, inventory, parsing the playbooks and roles"] == 0.3

    run = write_run(tmp_path, {"profile.seconds": "12.0", "profile.rc": "0", "profile.rate": "100"}, {})
    text = report.build(run)
    row = next(r for r in rows(text) if "py-spy" in r)
    assert "main process 0.5 s busy, 4.0 s waiting; workers 2.1 s busy" in row
    assert "| 1.50 | building module payloads" in text
    # py-spy exits 0 whatever the playbook did; bin/bench records the recap's verdict after it.
    (run / "values.tsv").write_text("profile.seconds\t1.2\nprofile.rc\t0\nprofile.rate\t100\nprofile.rc\t1\n")
    assert "FAILED" in next(r for r in rows(report.build(run)) if "py-spy" in r)


def baseline_run(tmp_path, seconds, changed=None, rev="651432e"):
    """A baseline part's run directory: SECONDS maps (side, number) to seconds; CHANGED to a recap's changed."""
    changed = changed or {}
    values = {"cores": "2", "baseline.rev": rev, "baseline.ref": rev, "baseline.subject": "bench/README: today's runs",
              "baseline.current": "working tree at 6b4bfb0, clean",
              "baseline-converge-baseline.seconds": "90.0", "baseline-converge-baseline.rc": "0"}
    logs = {}
    for (side, number), secs in seconds.items():
        name = f"rerun-{side}-{number}"
        values.update({f"{name}.seconds": str(secs), f"{name}.rc": "0", f"{name}.load": "3.10 2.00 1.00",
                       f"{name}.cpu": "60", f"{name}.logins": "2", f"{name}.waited": "0"})
        tasks = [("ufw : Install UFW", 1.0)] * (2 if side == "current" else 3)
        log = playbook_log(tasks, ok=90 if side == "current" else 113, changed=changed.get((side, number), 0))
        roles = ("\nROLES RECAP ****\nMonday 23 November 2026  13:05:42 +0000 (0:00:05.245)  0:00:14.713 ****\n"
                 "=====\n" + ("ufw ---------- 1.50s\n" if side == "current" else "ufw ---------- 2.50s\n"))
        logs[name] = log + roles
    return write_run(tmp_path, values, logs)


def test_baseline_row_compares_the_medians_of_alternating_runs(tmp_path):
    run = baseline_run(tmp_path, {("baseline", 1): 20.0, ("current", 1): 16.0, ("baseline", 2): 30.0,
                                  ("current", 2): 15.0, ("baseline", 3): 22.0, ("current", 3): 19.0})
    text = report.build(run)
    row = next(row for row in rows(text) if "Re-run: current vs baseline 651432e" in row)
    assert "16.0 s (runs 16.0, 15.0, 19.0; 2 tasks; ok 90, changed 0, skipped 0)" in row
    assert "baseline 651432e: 22.0 s (runs 20.0, 30.0, 22.0; 3 tasks; ok 113, changed 0, skipped 0)" in row
    assert "0.73×" in row and "≤ 1.00×, changed 0" in row and row.endswith("| yes |")
    # Every run in the order taken, baseline first, then the roles side by side.
    table = text.split("each run, in the order taken")[1]
    order = [line.split(" | ")[1] for line in table.splitlines() if line.startswith("| ") and " | 3.10 " in line]
    assert order == ["baseline", "current"] * 3
    assert "| converge (untimed) | baseline | 90.0 | rc 0 |" in text
    assert "| ufw | 1.50 | 2.50 |" in text


def test_baseline_row_is_failed_when_a_rerun_changed_something(tmp_path):
    run = baseline_run(tmp_path, {("baseline", 1): 20.0, ("current", 1): 16.0, ("baseline", 2): 21.0,
                                  ("current", 2): 18.0}, changed={("current", 2): 1})
    row = next(row for row in rows(report.build(run)) if "Re-run: current vs baseline" in row)
    assert "runs 16.0, 18.0 (FAILED: changed 1)" in row
    # The median is of the clean runs; the row is not met however fast.
    assert "16.0 s" in row and "0.78×" in row and ", FAILED" in row and row.endswith("| **no** |")


def test_baseline_row_is_not_met_when_current_is_slower(tmp_path):
    run = baseline_run(tmp_path, {("baseline", 1): 10.0, ("current", 1): 11.0})
    row = next(row for row in rows(report.build(run)) if "Re-run: current vs baseline" in row)
    assert "1.10×" in row and row.endswith("| **no** |")


def test_a_rerun_is_clean_only_with_exit_0_and_nothing_changed():
    assert report.rerun_clean("0", {"ok": 90, "changed": 0, "unreachable": 0, "failed": 0})
    assert report.rerun_clean(0, {"ok": 90, "changed": 0, "unreachable": 0, "failed": 0})
    assert not report.rerun_clean("0", {"ok": 90, "changed": 1, "unreachable": 0, "failed": 0})
    assert not report.rerun_clean("2", {"ok": 90, "changed": 0, "unreachable": 0, "failed": 1})
    assert not report.rerun_clean("0", {})


def test_audit_row_sits_beside_the_rerun(tmp_path):
    run = write_run(tmp_path, {"cores": "2", "rerun.seconds": "20.0", "rerun.rc": "0", "audit.seconds": "15.0",
                               "audit.rc": "0", "audit.cpu": "40"},
                    {"rerun": playbook_log([("ufw : Install UFW", 1.0)])})
    (run / "audit-report").mkdir()
    (run / "audit-report" / "audit.json").write_text(
        '{"schema": 1, "summary": {"hosts": 1, "pass": 32, "fail": 0, "skip": 1, "hosts_without_results": 0},'
        ' "hosts": []}')
    audit = next(row for row in rows(report.build(run)) if "Audit of the converged host" in row)
    assert "15.0 s (33 controls: 32 pass, 0 fail, 1 skip" in audit and "the re-run: 20.0 s" in audit
    assert "0.75×" in audit and "FAILED" not in audit


def test_fleet_row_takes_the_ratio_of_the_rounds_sums(tmp_path):
    values = {"cores": "2", "fleet-settle.seconds": "150.0"}
    for name, secs in (("fleet1", "30.0"), ("fleet4", "66.0"), ("fleet1-2", "24.0"), ("fleet4-2", "60.0")):
        values.update({f"{name}.seconds": secs, f"{name}.rc": "0"})
    logs = {name: playbook_log([("ufw : Install UFW", 1.0)], changed=changed)
            for name, changed in (("fleet1", 0), ("fleet4", 0), ("fleet1-2", 0), ("fleet4-2", 1))}
    fleet = next(row for row in rows(report.build(write_run(tmp_path, values, logs))) if "Fleet re-run" in row)
    assert "2 rounds" in fleet and "66.0 s, 60.0 s (changed 1" in fleet
    assert "30.0 s, 24.0 s" in fleet
    assert "2.33× (sums)" in fleet  # 126 / 54


def test_fleet_rounds_end_at_the_first_incomplete_one():
    values = {"fleet1.seconds": "30", "fleet4.seconds": "60", "fleet1-2.seconds": "25"}
    assert report.fleet_rounds(values) == [("fleet1", "fleet4", 30.0, 60.0)]
    assert report.fleet_rounds({}) == []
