"""Where the controller's time goes in one ansible-playbook run, from py-spy.

bin/bench's `profile` part records the re-run with

    py-spy record --subprocesses --idle --rate N --format raw --output profile.raw -- ansible-playbook ...

Each line of the raw output is "FRAME;FRAME;...;FRAME COUNT", outermost frame
first; with --subprocesses the first frame names the process ("process PID:...",
the same PID for forked children). A sample is the main process's when its
stack runs through CLI.cli_executor but not multiprocessing's
BaseProcess._bootstrap; everything else is a worker (Ansible forks one
WorkerProcess per task and host) or a process a worker started. A sample whose innermost frame is a wait (a
select, a pipe or queue read, the strategy's sleep between result polls) is
idle: the process was waiting, for the host or for a worker, not using a CPU.

Only the controller is sampled: what a module does on the host, over SSH,
shows here as the worker waiting for it.
"""

import re
from pathlib import Path

# Innermost frames that mean "waiting", not working.
IDLE_LEAVES = frozenset({
    "select", "poll", "_recv", "_recv_bytes", "recv", "read", "readinto", "wait", "_wait", "sleep",
    "_wait_on_pending_results", "_communicate", "_read_from_pipe", "_poll", "SimpleQueue.get",
    "Connection._recv", "Connection.poll", "EpollSelector.select", "_PollLikeSelector.select",
    "StrategyBase._wait_on_pending_results", "Popen.wait", "Popen._wait", "Popen.communicate",
})

# Walking from the innermost frame outwards, the first marker found names
# where a busy sample went.
CATEGORIES = (
    ("_ansiballz_main", "modules run on the controller itself (delegate_to: localhost)"),
    ("recursive_finder", "building module payloads (AnsiballZ scans module_utils' source, once per module per run)"),
    ("_low_level_execute_command", "handing a module or command to SSH"),
    ("TemplateEngine.", "templating (Jinja)"),
    ("Templar.", "templating (Jinja)"),
    ("BaseProcess._bootstrap", "the rest of a task in its worker (task setup, results)"),
    ("Popen._launch", "forking a worker process per task and host"),
    ("StrategyModule.run", "the strategy: queueing tasks, reading results, callbacks"),
)
OTHER = "start-up: imports, inventory, parsing the playbooks and roles"

FRAME = re.compile(r"^(?P<function>[^(]+?)(?: \((?P<where>.*)\))?$")


def _function(frame):
    match = FRAME.match(frame.strip())
    return match["function"] if match else frame


def summarise(path, rate):
    """Seconds of the main process busy and waiting, of the other processes busy, and busy seconds by category."""
    main_busy = main_idle = worker_busy = 0
    categories = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        functions = [_function(f) for f in (frames[1:] if frames[0].startswith("process ") else frames)]
        if not functions:
            continue
        in_main = "CLI.cli_executor" in functions and "BaseProcess._bootstrap" not in functions
        leaf = functions[-1]
        idle = leaf in IDLE_LEAVES or leaf.rpartition(".")[2] in IDLE_LEAVES
        if idle:
            if in_main:
                main_idle += samples
            continue
        if in_main:
            main_busy += samples
        else:
            worker_busy += samples
        label = OTHER
        for function in reversed(functions):
            found = next((name for marker, name in CATEGORIES if function == marker.rstrip(".")
                          or (marker.endswith(".") and function.startswith(marker))), None)
            if found:
                label = found
                break
        categories[label] = categories.get(label, 0) + samples
    return {
        "main_busy": main_busy / rate,
        "main_idle": main_idle / rate,
        "worker_busy": worker_busy / rate,
        "categories": sorted(((name, value / rate) for name, value in categories.items()), key=lambda item: -item[1]),
    }
