#!/usr/bin/env python3
"""Crash campaign: SIGKILL the demo pipeline at random moments and prove nothing is lost.

    scripts/kill_campaign.py [--kills 20] [--seed 1] [--binary PATH] [--keep]

1. A reference run of pipelines/demo.yaml, uninterrupted, in a fresh project folder.
2. For each kill: a fresh project, `agentshop run` started, SIGKILL at a random moment within the
   reference run's duration (so kills spread over every stage), then
   - every file under a final name in the lake is checked whole: gzip streams end properly,
     JSONL lines parse, CSV rows have the header's width, WARC records parse, SQLite files pass
     `PRAGMA integrity_check` (the store and the dumps);
   - the pipeline is run again to completion, and its outputs must equal the reference run's
     (records equal, volatile fields such as fetch times and latencies left out), with no
     temporary file left anywhere in the lake.
Prints one line per kill (moment, the stage that was running, files checked) and a summary;
exits 1 on the first broken file or difference.
"""
import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_DATE = "2026-11-25"
# Fields whose values depend on the clock or the network's timing, not on the inputs.
VOLATILE_FIELDS = {"fetched_at", "ms", "latency_ms", "at", "elapsed_ms", "duration_ms", "generated_at",
                   "created_at", "updated_at", "run_id"}
# Folders whose files are about a run rather than its results.
NOT_RESULTS = ("raw_data/logs/", "db_dumps/", ".agentshop/", "store/")
TEMP_MARKER = ".agentshop-tmp-"


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def make_project(binary):
    folder = tempfile.mkdtemp(prefix="agentshop-kill-")
    shutil.copytree(os.path.join(ROOT, "pipelines"), os.path.join(folder, "pipelines"))
    subprocess.run([binary, "init", "--quiet"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    shutil.copytree(os.path.join(ROOT, "datalake", "raw_data", "imports"),
                    os.path.join(folder, "datalake", "raw_data", "imports"), dirs_exist_ok=True)
    subprocess.run([binary, "db", "init", "--quiet"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return folder


def start_run(binary, folder):
    return subprocess.Popen([binary, "run", "pipelines/demo.yaml", "--date", RUN_DATE, "--quiet"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def lake_files(folder):
    lake = os.path.join(folder, "datalake")
    for base, dirs, files in os.walk(lake):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            yield os.path.relpath(path, lake), path


def read_maybe_gzip(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        # Every member must end properly; a truncated stream raises EOFError.
        data = gzip.decompress(data)
    return data


def warc_records(data):
    """Yields (headers, block) per record; raises ValueError on anything malformed."""
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"WARC header without end at byte {pos}")
        lines = data[pos:end].decode("utf-8").split("\r\n")
        if not lines[0].startswith("WARC/"):
            raise ValueError(f"not a WARC record at byte {pos}: {lines[0][:40]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        block = data[end + 4:end + 4 + length]
        if len(block) != length or data[end + 4 + length:end + 8 + length] != b"\r\n\r\n":
            raise ValueError(f"WARC record at byte {pos} is cut short")
        yield headers, block
        pos = end + 8 + length


def check_file(relative, path):
    """Raises when a file under a final name is not whole."""
    name = relative.rsplit("/", 1)[-1]
    if name.endswith((".sqlite", ".sqlite.pre-restore", ".sqlite.pre-rebuild")) or relative.endswith(".sqlite.gz"):
        raw = path
        if relative.endswith(".gz"):
            fd, raw = tempfile.mkstemp(suffix=".sqlite")
            with os.fdopen(fd, "wb") as out:
                out.write(read_maybe_gzip(path))
        try:
            db = sqlite3.connect(f"file:{raw}?mode=ro", uri=True)
            result = db.execute("PRAGMA integrity_check").fetchall()
            db.close()
            if result != [("ok",)]:
                raise ValueError(f"integrity_check: {result[:3]}")
        finally:
            if raw != path:
                os.unlink(raw)
        return
    if name.endswith((".sqlite-wal", ".sqlite-shm", ".lock")):
        return
    data = read_maybe_gzip(path) if name.endswith(".gz") else None
    if ".jsonl" in name:
        data = data if data is not None else open(path, "rb").read()
        for number, line in enumerate(data.split(b"\n"), 1):
            if line.strip():
                json.loads(line)
        if data and not data.endswith(b"\n"):
            raise ValueError("JSONL file does not end with a newline")
    elif ".csv" in name:
        data = data if data is not None else open(path, "rb").read()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        if rows and any(len(row) != len(rows[0]) for row in rows[1:]):
            raise ValueError("CSV rows of different widths")
    elif ".warc" in name:
        data = data if data is not None else open(path, "rb").read()
        for _ in warc_records(data):
            pass
    elif name.endswith(".json"):
        json.loads(open(path, "rb").read())
    elif name.endswith(".gz"):
        pass  # decompressed above: whole


def check_lake(folder):
    checked = 0
    for relative, path in lake_files(folder):
        if TEMP_MARKER in relative or relative.startswith("raw_data/imports/"):
            continue  # a killed run's temporary (removed by the next run), or the inputs people put there
        try:
            check_file(relative, path)
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            fail(f"{relative} is not whole after the kill: {error}")
        checked += 1
    return checked


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items()) if k not in VOLATILE_FIELDS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def result_digest(relative, path, folder):
    """What a result file holds, without what depends on the clock or on where the project is
    (the demo crawls file:// URLs inside the project folder)."""
    name = relative.rsplit("/", 1)[-1]
    data = read_maybe_gzip(path) if name.endswith(".gz") else open(path, "rb").read()
    def here(raw):
        return raw.replace(os.path.realpath(folder).encode(), b"<project>").replace(folder.encode(), b"<project>")
    if ".warc" not in name:
        data = here(data)
    if ".jsonl" in name:
        records = [normalise(json.loads(line)) for line in data.split(b"\n") if line.strip()]
        return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    if name.endswith((".json", ".json.gz")):
        return hashlib.sha256(json.dumps(normalise(json.loads(data)), sort_keys=True).encode()).hexdigest()
    if ".warc" in name:
        kept = []
        for headers, block in warc_records(data):
            if headers.get("warc-type") in ("response", "resource", "metadata"):
                body = block.split(b"\r\n\r\n", 1)[-1] if headers.get("warc-type") == "response" else b""
                uri = here((headers.get("warc-target-uri") or "").encode()).decode()
                kept.append((headers.get("warc-type"), uri, hashlib.sha256(here(body)).hexdigest()))
        return hashlib.sha256(json.dumps(sorted(kept)).encode()).hexdigest()
    return hashlib.sha256(data).hexdigest()


def results(folder):
    out = {}
    for relative, path in lake_files(folder):
        if relative.startswith(NOT_RESULTS) or TEMP_MARKER in relative or "/raw_data/imports/" in "/" + relative:
            continue
        if relative.endswith((".rejects.jsonl", "README.md", ".html")):
            continue  # rejects sit with the run's log; an HTML report shows the run's timings
        out[relative] = result_digest(relative, path, folder)
    return out


def store_rows(folder):
    """The store's lake-derived product rows, without clocks."""
    db = sqlite3.connect(f"file:{os.path.join(folder, 'datalake', 'store', 'agentshop.sqlite')}?mode=ro", uri=True)
    rows = db.execute("SELECT slug, name, brand, price_cents, currency FROM upload_products ORDER BY slug").fetchall()
    db.close()
    return rows


def running_stage(folder):
    """The stages the run's log shows started and not finished."""
    logs = os.path.join(folder, "datalake", "raw_data", "logs", "demo")
    names = sorted(f for f in os.listdir(logs) if f.endswith(".log")) if os.path.isdir(logs) else []
    if not names:
        return "(starting)"
    running = []
    for line in open(os.path.join(logs, names[-1]), encoding="utf-8", errors="replace"):
        stage = line.rsplit("stage=", 1)[-1].split()[0] if "stage=" in line else None
        if " stage started " in line and stage:
            running.append(stage)
        elif " stage finished " in line and stage in running:
            running.remove(stage)
        elif " run finished " in line:
            return "(finishing)"
    return "+".join(running) if running else "(between stages)"


def stage_started(folder, stage):
    logs = os.path.join(folder, "datalake", "raw_data", "logs", "demo")
    names = sorted(f for f in os.listdir(logs) if f.endswith(".log")) if os.path.isdir(logs) else []
    if not names:
        return False
    with open(os.path.join(logs, names[-1]), encoding="utf-8", errors="replace") as log:
        return any(" stage started " in line and line.rstrip().endswith(f"stage={stage}") for line in log)


def stage_windows(folder, launched):
    """Each stage's (start, end) in seconds after the process was launched, from the run's log."""
    from datetime import datetime
    logs = os.path.join(folder, "datalake", "raw_data", "logs", "demo")
    log = sorted(f for f in os.listdir(logs) if f.endswith(".log"))[-1]
    starts, windows = {}, {}
    for line in open(os.path.join(logs, log), encoding="utf-8"):
        stamp = datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=__import__("datetime").timezone.utc).timestamp() - launched
        stage = line.rsplit("stage=", 1)[-1].split()[0] if "stage=" in line else None
        if " stage started " in line and stage:
            starts[stage] = stamp
        elif " stage finished " in line and stage in starts:
            windows[stage] = (starts[stage], stamp)
    return windows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "agentshop"))
    parser.add_argument("--keep", action="store_true", help="keep the project folders")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        fail(f"no agentshop binary at {args.binary}; build it (swift build -c release) or pass --binary")
    rng = random.Random(args.seed)

    reference = make_project(args.binary)
    started = time.monotonic()
    launched = time.time()
    run = start_run(args.binary, reference)
    _, err = run.communicate()
    duration = time.monotonic() - started
    if run.returncode != 0:
        fail(f"the reference run failed ({run.returncode}): {err.decode()[-2000:]}")
    expected = results(reference)
    expected_store = store_rows(reference)
    windows = stage_windows(reference, launched)
    print(f"reference run: {duration:.2f}s, {len(expected)} result files, {len(expected_store)} products in the store, "
          f"{len(windows)} stages", flush=True)
    # Every stage gets kills inside its own window (as the reference run timed it), the rest fall anywhere.
    targets = sorted(windows)

    stages_hit = set()
    for number in range(1, args.kills + 1):
        folder = make_project(args.binary)
        run = start_run(args.binary, folder)
        started = time.monotonic()
        if number <= 2 * len(targets):
            # Wait for the stage to start (the log says so), then kill within its usual duration.
            target = targets[(number - 1) % len(targets)]
            start, end = windows[target]
            while run.poll() is None and not stage_started(folder, target):
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, max(0.0, end - start)))
        else:
            time.sleep(rng.uniform(0.02, 1.0) * duration)
        moment = time.monotonic() - started
        stage = running_stage(folder)
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            run.wait()
            how = f"killed at {moment:.3f}s during {stage}"
        else:
            how = f"finished before {moment:.3f}s"
        stages_hit.add(stage)
        checked = check_lake(folder)
        rerun = start_run(args.binary, folder)
        _, err = rerun.communicate()
        if rerun.returncode != 0:
            fail(f"kill {number}: the rerun failed ({rerun.returncode}): {err.decode()[-2000:]}")
        got = results(folder)
        if got != expected:
            differing = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
            fail(f"kill {number}: outputs differ from the uninterrupted run: {differing[:10]}")
        if store_rows(folder) != expected_store:
            fail(f"kill {number}: the store's products differ from the uninterrupted run")
        leftovers = [r for r, _ in lake_files(folder) if TEMP_MARKER in r]
        if leftovers:
            fail(f"kill {number}: temporary files left after the rerun: {leftovers[:5]} "
                 f"(killed run pid {run.pid}, rerun pid {rerun.pid})")
        check_lake(folder)
        print(f"kill {number:2d}: {how}; {checked} files whole; rerun equal to the reference, no temporaries",
              flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(reference, ignore_errors=True)
    print(f"{args.kills} kills survived; moments fell in: {', '.join(sorted(stages_hit))}")


if __name__ == "__main__":
    main()
