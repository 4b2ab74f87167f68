#!/usr/bin/python3 -I
# Managed by Ansible (role django_app): edits here are overwritten.
"""Content-Security-Policy violation reports: received by the app, summarised for the operator.

One file, two uses:
- in each release as `production_csp.py`: `middleware`, which the production
  settings put after SecurityMiddleware. It answers POSTs to the report path
  (the policy's report-uri) itself, before CSRF and the project's URLs, and
  logs each violation as one JSON line to the `csp` logger (csp-reports.log).
- as `/usr/local/bin/NAME-csp-report`: reads those logs (rotated and
  compressed ones too) and prints what was blocked, most frequent first, with
  what to do about it. Run it during the report-only stage, add what the app
  needs to the policy (django_app_csp), then enforce.

Browsers send two formats: `application/csp-report` (report-uri) and the
Reporting API's `application/reports+json`; both become the same record.
Query strings and fragments are dropped from every URL (they may hold
tokens); only the page's path, the blocked origin or keyword and the source
file's path are kept.
"""

import glob
import gzip
import json
import logging
import sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

# A report is small; anything bigger is not a browser's report.
MAX_BODY = 64 * 1024
# Keywords browsers send instead of a URL for what they blocked.
KEYWORDS = {"inline", "eval", "wasm-eval", "trusted-types-policy", "trusted-types-sink", "data", "blob"}
FIELD_WIDTH = 200
# The logs read when none are named: the installed tool's copy names the app's
# (templates/csp-report.j2).
DEFAULT_LOGS = ()


def _url(value, keep_path=True):
    """A URL without query or fragment (origin only unless keep_path); keywords as they are."""
    text = str(value or "").strip()[:FIELD_WIDTH]
    if not text or text in KEYWORDS or ":" not in text:
        return text
    parts = urlsplit(text)
    if parts.scheme in ("data", "blob", "filesystem"):
        return parts.scheme
    if not parts.netloc:
        return parts.scheme
    origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    return origin + (parts.path if keep_path else "")


def _path(value):
    text = str(value or "").strip()[:FIELD_WIDTH]
    return urlsplit(text).path or "/" if text else ""


def _record(document, directive, blocked, source, line, disposition):
    directive = str(directive or "").split(" ")[0][:64]
    try:
        line = int(line or 0)
    except (TypeError, ValueError):
        line = 0
    return {"document": _path(document), "directive": directive, "blocked": _url(blocked, keep_path=False),
            "source": _url(source), "line": line, "disposition": str(disposition or "")[:16]}


def parse(body):
    """The violations in one report body (bytes or str), as records; [] for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        report = data["csp-report"]
        return [_record(report.get("document-uri"),
                        report.get("effective-directive") or report.get("violated-directive"),
                        report.get("blocked-uri"), report.get("source-file"), report.get("line-number"),
                        report.get("disposition"))]
    if isinstance(data, list):
        return [_record(body.get("documentURL"), body.get("effectiveDirective"), body.get("blockedURL"),
                        body.get("sourceFile"), body.get("lineNumber"), body.get("disposition"))
                for body in (item.get("body") for item in data
                             if isinstance(item, dict) and item.get("type") == "csp-violation")
                if isinstance(body, dict)]
    return []


def middleware(get_response):
    """Django middleware: POSTs to settings.CSP_REPORT_PATH are reports, logged and answered 204."""
    from django.conf import settings  # pylint: disable=import-outside-toplevel
    from django.http import HttpResponse  # pylint: disable=import-outside-toplevel

    logger = logging.getLogger("csp")
    path = settings.CSP_REPORT_PATH

    def receive(request):
        if request.path != path:
            return get_response(request)
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = MAX_BODY + 1
        if length > MAX_BODY:
            return HttpResponse(status=413)
        records = parse(request.body)
        for record in records:
            logger.warning("%s", json.dumps(record, sort_keys=True))
        return HttpResponse(status=204 if records else 400)

    return receive


def _lines(paths):
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
                yield from handle
        except OSError as error:
            print(f"{path}: {error.strerror}", file=sys.stderr)


def advice(directive, blocked):
    """What to change so the app works under the policy (or why not to)."""
    family = directive.split("-")[0]
    if blocked == "inline":
        return (f"move the inline {'script' if family == 'script' else 'style' if family == 'style' else 'code'} "
                "into a static file (or allow it by its hash)")
    if blocked in ("eval", "wasm-eval"):
        return "the page evaluates strings as code: change that code; 'unsafe-eval' would open the door to XSS"
    if blocked in ("data", "blob"):
        return f'add "{blocked}:" to {directive.replace("-elem", "").replace("-attr", "")} if the page needs it'
    if "://" in blocked:
        return f'add "{blocked}" to {directive.replace("-elem", "").replace("-attr", "")} if you trust it'
    return "read the page's source at the line shown"


def summarise(lines):
    """Counts per (directive, blocked), each with the pages and sources it was seen on."""
    counts = Counter()
    where = defaultdict(Counter)
    for line in lines:
        start = line.find("{")
        try:
            record = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or "directive" not in record:
            continue
        key = (record.get("directive", ""), record.get("blocked", ""))
        counts[key] += 1
        source = record.get("source") or record.get("document") or ""
        where[key][f"{record.get('document', '')} ({source}:{record.get('line', 0)})"] += 1
    return [{"directive": directive, "blocked": blocked, "count": count,
             "seen": [place for place, _ in where[(directive, blocked)].most_common(3)],
             "advice": advice(directive, blocked)}
            for (directive, blocked), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def render(summary):
    if not summary:
        return "No CSP violations reported."
    out = [f"{len(summary)} kinds of CSP violation, most frequent first:"]
    for entry in summary:
        out.append(f"\n{entry['count']:>6}  {entry['directive']} blocked {entry['blocked'] or '(nothing named)'}")
        out.extend(f"        on {place}" for place in entry["seen"])
        out.append(f"        -> {entry['advice']}")
    return "\n".join(out)


def main(argv):
    if argv[:1] in (["-h"], ["--help"]):
        print("usage: NAME-csp-report [--json] [LOG...]   (default: the app's csp-reports.log and its rotations)",
              file=sys.stderr)
        return 2
    as_json = argv[:1] == ["--json"]
    paths = argv[1:] if as_json else argv
    paths = paths or [path for pattern in DEFAULT_LOGS for path in glob.glob(pattern)]
    summary = summarise(_lines(sorted(paths, reverse=True)))
    print(json.dumps(summary, indent=2) if as_json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
