#!/usr/bin/env python3
"""Crash campaign: SIGKILL pipelines and store commands inside every step, and prove nothing is lost.

    scripts/kill_campaign.py [--pipelines demo marketplace] [--rounds 1] [--attempts 10]
                             [--commands | --no-commands] [--seed 1] [--binary PATH] [--keep]

Pipelines (each of pipelines/<name>.yaml that exists):
1. A reference run, uninterrupted, in a fresh project folder; its log gives each stage's window.
2. Every stage that ran is killed inside, `--rounds` times. A kill counts only when it happened inside
   the stage: the run is frozen with SIGSTOP at a random moment of the stage's window, the run's log
   must then show the stage started and not finished, and only then SIGKILL follows. A miss (the
   stage not yet started or already done) is let go and retried with a shorter delay, up to
   `--attempts` times; a stage that was never hit fails the campaign.
3. After each kill:
   - every file under a final name in the lake is whole: gzip streams end, JSONL lines parse, CSV rows
     have the header's width, WARC records parse, HTML reports end with </html>, text is UTF-8, JSON
     parses, SQLite files pass integrity_check and foreign_key_check, every dump matches the sha256
     of its sidecar;
   - the pipeline runs again to completion and its results equal the reference run's (records equal,
     volatile fields such as fetch times left out), the whole store equals the reference's (every
     table and column but clocks and run ids), the newest dump holds the same rows, and no temporary
     file is left anywhere.

Store commands (`--commands`, on the demo's project): `db dump`, `db restore` and `db rebuild` are
killed the same way (SIGSTOP at a random moment of the reference's duration, SIGKILL only while the
command still runs). Afterwards the store is exactly its state before the command or after it,
passes integrity_check and foreign_key_check, and the command run again gives the reference result
with no temporaries left.

Prints one line per kill and a per-step table of real kills; exits 1 on the first broken file or
difference, or when a step was never killed inside.
"""
import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_DATE = "2026-11-25"
# Fields whose values depend on the clock or the network's timing, not on the inputs.
VOLATILE_FIELDS = {"fetched_at", "ms", "latency_ms", "at", "elapsed_ms", "duration_ms", "generated_at",
                   "created_at", "updated_at", "run_id"}
# Store columns that hold clocks or run ids: `*_at`, `*_ms`, `run_id`.
VOLATILE_COLUMN = re.compile(r"(_at|_ms|^run_id)$")
RUN_ID = re.compile(rb"\d{8}T\d{6}Z-[0-9a-f]{6}")
DUMP_STAMP = re.compile(r"\d{8}T\d{6}Z")
# Folders whose files are about a run rather than its results.
NOT_RESULTS = ("raw_data/logs/", "db_dumps/", ".agentshop/", "store/")
TEMP_MARKER = ".agentshop-tmp-"
STORE = os.path.join("datalake", "store", "agentshop.sqlite")


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def run_quiet(binary, folder, *arguments):
    result = subprocess.run([binary, *arguments], cwd=folder, capture_output=True)
    if result.returncode != 0:
        fail(f"`agentshop {' '.join(arguments)}` failed ({result.returncode}): "
             f"{result.stderr.decode(errors='replace')[-2000:]}")
    return result


def make_project(binary):
    folder = tempfile.mkdtemp(prefix="agentshop-kill-")
    shutil.copytree(os.path.join(ROOT, "pipelines"), os.path.join(folder, "pipelines"))
    run_quiet(binary, folder, "init", "--quiet")
    shutil.copytree(os.path.join(ROOT, "datalake", "raw_data", "imports"),
                    os.path.join(folder, "datalake", "raw_data", "imports"), dirs_exist_ok=True)
    run_quiet(binary, folder, "db", "init", "--quiet")
    return folder


def start(binary, folder, arguments):
    return subprocess.Popen([binary, *arguments], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def pipeline_arguments(pipeline):
    return ["run", f"pipelines/{pipeline}.yaml", "--date", RUN_DATE, "--quiet"]


def lake_files(folder):
    lake = os.path.join(folder, "datalake")
    for base, dirs, files in os.walk(lake):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            yield os.path.relpath(path, lake), path


def temporaries(folder):
    return [relative for relative, _ in lake_files(folder) if TEMP_MARKER in relative]


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


def open_database(path):
    """A read-only connection to a SQLite file, or to a gzip dump of one (binary or SQL text)."""
    if path.endswith(".sqlite.gz") or path.endswith(".sql.gz"):
        data = read_maybe_gzip(path)
        db = sqlite3.connect(":memory:")
        if path.endswith(".sqlite.gz"):
            # A snapshot of a WAL-mode store says so in its header (bytes 18-19); in memory it is read
            # as a rollback-journal database, which holds the same pages.
            data = bytearray(data)
            if data[18:20] == b"\x02\x02":
                data[18:20] = b"\x01\x01"
            db.deserialize(bytes(data))
        else:
            db.executescript(data.decode("utf-8"))
        return db
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def check_database(path):
    db = open_database(path)
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            raise ValueError(f"integrity_check: {result[:3]}")
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise ValueError(f"foreign_key_check: {broken[:3]}")
    finally:
        db.close()


def check_file(relative, path):
    """Raises when a file under a final name is not whole."""
    name = relative.rsplit("/", 1)[-1]
    if name.endswith((".sqlite-wal", ".sqlite-shm", ".lock", ".pid")):
        return
    if name.endswith((".sqlite", ".sqlite.pre-restore", ".sqlite.pre-rebuild", ".sqlite.gz", ".sql.gz")):
        check_database(path)
        return
    if relative.startswith("db_dumps/") and name.endswith(".json"):
        sidecar = json.loads(open(path, "rb").read())
        dump = os.path.join(os.path.dirname(path), sidecar["file"])
        if not os.path.exists(dump):
            raise ValueError(f"sidecar of a missing dump {sidecar['file']}")
        with open(dump, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != sidecar["sha256"]:
                raise ValueError(f"{sidecar['file']} does not match its sidecar's sha256")
        return
    data = read_maybe_gzip(path) if name.endswith(".gz") else open(path, "rb").read()
    if ".jsonl" in name:
        for line in data.split(b"\n"):
            if line.strip():
                json.loads(line)
        if data and not data.endswith(b"\n"):
            raise ValueError("JSONL file does not end with a newline")
    elif ".csv" in name:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        if rows and any(len(row) != len(rows[0]) for row in rows[1:]):
            raise ValueError("CSV rows of different widths")
    elif ".warc" in name:
        for _ in warc_records(data):
            pass
    elif name.endswith((".html", ".htm")):
        if not data.rstrip().lower().endswith(b"</html>"):
            raise ValueError("HTML report does not end with </html>")
    elif name.endswith((".json", ".json.gz")):
        json.loads(data)
    elif name.endswith((".txt", ".md", ".log", ".tsv")):
        data.decode("utf-8")


def check_lake(folder, when):
    checked = 0
    for relative, path in lake_files(folder):
        if TEMP_MARKER in relative or relative.startswith("raw_data/imports/"):
            continue  # a killed run's temporary (removed by the next run), or the inputs people put there
        try:
            check_file(relative, path)
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            fail(f"{relative} is not whole {when}: {error}")
        checked += 1
    return checked


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items()) if k not in VOLATILE_FIELDS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def here(raw, folder):
    """Bytes without the project's place (the pipelines crawl file:// URLs inside the project folder)."""
    return raw.replace(os.path.realpath(folder).encode(), b"<project>").replace(folder.encode(), b"<project>")


def result_digest(relative, path, folder):
    """What a result file holds, without what depends on the clock or on where the project is."""
    name = relative.rsplit("/", 1)[-1]
    data = read_maybe_gzip(path) if name.endswith(".gz") else open(path, "rb").read()
    if ".warc" not in name:
        data = here(data, folder)
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
                uri = here((headers.get("warc-target-uri") or "").encode(), folder).decode()
                kept.append((headers.get("warc-type"), uri, hashlib.sha256(here(body, folder)).hexdigest()))
        return hashlib.sha256(json.dumps(sorted(kept)).encode()).hexdigest()
    return hashlib.sha256(data).hexdigest()


def results(folder):
    out = {}
    for relative, path in lake_files(folder):
        if relative.startswith(NOT_RESULTS) or TEMP_MARKER in relative or relative.startswith("raw_data/imports/"):
            continue
        if relative.endswith((".rejects.jsonl", "README.md", ".html")):
            continue  # rejects sit with the run's log; an HTML report shows the run's timings
        out[relative] = result_digest(relative, path, folder)
    return out


def database_state(db, folder):
    """Every table's rows, without the columns that hold clocks or run ids, run ids and the project's
    place taken out of the values: {table: sha256 of its rows in rowid order}."""
    state = {}
    tables = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for table in tables:
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')
                   if not VOLATILE_COLUMN.search(row[1])]
        listed = ", ".join(f'"{c}"' for c in columns)
        digest = hashlib.sha256()
        for row in db.execute(f'SELECT {listed} FROM "{table}" ORDER BY rowid'):
            for value in row:
                raw = value if isinstance(value, bytes) else repr(value).encode()
                digest.update(RUN_ID.sub(b"<run>", here(raw, folder)) + b"\x1f")
            digest.update(b"\x1e")
        state[table] = digest.hexdigest()
    state["(schema)"] = hashlib.sha256(repr(db.execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()).encode()).hexdigest()
    return state


def store_state(folder):
    path = os.path.join(folder, STORE)
    check_database(path)
    db = open_database(path)
    try:
        return database_state(db, folder)
    finally:
        db.close()


def newest_dump_state(folder):
    """The rows of the newest binary dump (None when the lake has none)."""
    dumps = []
    for relative, path in lake_files(folder):
        if relative.startswith("db_dumps/") and relative.endswith(".sqlite.gz") and TEMP_MARKER not in relative:
            stamp = DUMP_STAMP.search(relative.rsplit("/", 1)[-1])
            dumps.append((stamp.group(0) if stamp else "", path))
    if not dumps:
        return None
    db = open_database(max(dumps)[1])
    try:
        return database_state(db, folder)
    finally:
        db.close()


def run_history_tables(path):
    """Tables that record runs rather than data (a run id column, or rows hanging off such a table):
    after a kill they also hold the killed run, so they are compared apart from the rest."""
    db = open_database(path)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        history = {t for t in tables if any(c[1] == "run_id" for c in db.execute(f'PRAGMA table_info("{t}")'))}
        for table in tables:
            targets = {row[2] for row in db.execute(f'PRAGMA foreign_key_list("{table}")')}
            if targets & history:
                history.add(table)
        history |= {t for t in tables if t.startswith("llm_usage")}  # daily sums of the LLM calls
        # The providers' figures of the day (requests, errors, cost today) are sums of the recorded calls too.
        history |= {t for t in tables if t == "llm_provider_status"}
        return sorted(history)
    finally:
        db.close()


def differing(a, b):
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def latest_log(folder, pipeline):
    logs = os.path.join(folder, "datalake", "raw_data", "logs", pipeline)
    names = sorted(f for f in os.listdir(logs) if f.endswith(".log")) if os.path.isdir(logs) else []
    return os.path.join(logs, names[-1]) if names else None


def log_stage(line):
    return line.rsplit("stage=", 1)[-1].split()[0] if "stage=" in line else None


def stage_status(folder, pipeline, stage):
    """'pending', 'running' or 'done' for one stage, as the run's log shows it."""
    log = latest_log(folder, pipeline)
    if log is None:
        return "pending"
    status = "pending"
    with open(log, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if log_stage(line) != stage:
                continue
            if " stage started " in line:
                status = "running"
            elif " stage " in line and status == "running":
                status = "done"  # finished, failed or skipped
    return status


def stage_windows(folder, pipeline, launched):
    """Each stage's (start, end) in seconds after the process was launched, from the run's log."""
    starts, windows = {}, {}
    for line in open(latest_log(folder, pipeline), encoding="utf-8"):
        stamp = datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc).timestamp() - launched
        stage = log_stage(line)
        if " stage started " in line and stage:
            starts[stage] = stamp
        elif " stage finished " in line and stage in starts:
            windows[stage] = (starts[stage], stamp)
    return windows


def freeze_and_kill(process, inside):
    """SIGSTOP the process; if `inside()` holds for the frozen process, SIGKILL it and return True,
    else let it go on and return False."""
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGSTOP)
    try:
        if process.poll() is None and inside():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
    return False


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.kills = {}       # step -> real kills
        self.attempts = {}    # step -> attempts it took
        self.folders = []
        self.history_differences = {}  # run-history table -> kills after which it differed

    def project(self):
        folder = make_project(self.args.binary)
        self.folders.append(folder)
        return folder

    def discard(self, folder):
        if not self.args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    def kill_until_inside(self, step, window, begin, inside, after_kill):
        """Starts the step (begin() -> process, folder) until a kill lands inside it; after_kill(folder)
        then checks what the kill left. Returns the moment of the kill."""
        for attempt in range(1, self.args.attempts + 1):
            process, folder, started_at = begin()
            # Later attempts aim earlier in the window: a step that ends quickly is caught at its start.
            span = window * (0.5 ** (attempt - 1)) if attempt < self.args.attempts else 0.0
            delay = self.rng.uniform(0, span)
            deadline = time.monotonic() + delay
            killed = False
            while process.poll() is None:
                if time.monotonic() >= deadline and freeze_and_kill(process, inside(folder)):
                    killed = True
                    break
                time.sleep(0.0005)
            self.attempts[step] = self.attempts.get(step, 0) + 1
            if killed:
                self.kills[step] = self.kills.get(step, 0) + 1
                moment = time.monotonic() - started_at
                after_kill(folder, moment, attempt)
                self.discard(folder)
                return
            process.communicate()
            self.discard(folder)
        fail(f"{step}: never killed inside in {self.args.attempts} attempts")

    def pipeline(self, pipeline):
        binary = self.args.binary
        reference = self.project()
        launched = time.time()
        started = time.monotonic()
        run = start(binary, reference, pipeline_arguments(pipeline))
        _, err = run.communicate()
        duration = time.monotonic() - started
        if run.returncode != 0:
            fail(f"{pipeline}: the reference run failed ({run.returncode}): {err.decode()[-2000:]}")
        check_lake(reference, "after the reference run")
        expected = results(reference)
        expected_store = store_state(reference)
        expected_dump = newest_dump_state(reference)
        windows = stage_windows(reference, pipeline, launched)
        print(f"{pipeline}: reference run {duration:.2f}s, {len(expected)} result files, "
              f"{len(expected_store) - 1} store tables, {len(windows)} stages", flush=True)

        for stage in sorted(windows):
            start_s, end_s = windows[stage]
            for _ in range(self.args.rounds):
                def begin():
                    folder = self.project()
                    process = start(binary, folder, pipeline_arguments(pipeline))
                    began = time.monotonic()
                    # Wait for the stage to start (the log says so): the kill aims inside its window.
                    while process.poll() is None and stage_status(folder, pipeline, stage) == "pending":
                        time.sleep(0.0005)
                    return process, folder, began

                def inside(folder):
                    return lambda: stage_status(folder, pipeline, stage) == "running"

                def after_kill(folder, moment, attempt):
                    checked = check_lake(folder, f"after a kill inside {pipeline}:{stage}")
                    store_state(folder)  # integrity_check and foreign_key_check of the store as the kill left it
                    rerun = start(binary, folder, pipeline_arguments(pipeline))
                    _, err = rerun.communicate()
                    where = f"{pipeline}:{stage}"
                    if rerun.returncode != 0:
                        fail(f"{where}: the rerun failed ({rerun.returncode}): {err.decode()[-2000:]}")
                    check_lake(folder, f"after the rerun of {where}")
                    got = results(folder)
                    if got != expected:
                        fail(f"{where}: outputs differ from the uninterrupted run: {differing(got, expected)[:10]}")
                    store = store_state(folder)
                    history = set(run_history_tables(os.path.join(folder, STORE)))
                    changed = differing(store, expected_store)
                    if [table for table in changed if table not in history]:
                        fail(f"{where}: the store differs from the uninterrupted run's in {changed}")
                    for table in changed:
                        self.history_differences.setdefault(table, set()).add(where)
                    dump = newest_dump_state(folder)
                    changed = differing(dump or {}, expected_dump or {})
                    if (dump is None) != (expected_dump is None) or [t for t in changed if t not in history]:
                        fail(f"{where}: the newest dump differs from the uninterrupted run's in {changed}")
                    for table in changed:
                        self.history_differences.setdefault(table, set()).add(where)
                    left = temporaries(folder)
                    if left:
                        fail(f"{where}: temporary files left after the rerun: {left[:5]}")
                    print(f"{where}: killed at {moment:.3f}s (attempt {attempt}); {checked} files whole; "
                          f"rerun equal to the reference (outputs, store, dump), no temporaries", flush=True)

                self.kill_until_inside(f"{pipeline}:{stage}", max(0.0, end_s - start_s), begin, inside, after_kill)
        return reference

    def commands(self, base):
        """Kills `db dump`, `db restore` and `db rebuild` on copies of a finished demo project whose store
        was made large enough (analytics events) for a kill to land inside."""
        binary = self.args.binary
        db = sqlite3.connect(os.path.join(base, STORE))
        db.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
                      INSERT INTO analytics_events (event_type, session_key, properties_json, occurred_at)
                      SELECT 'page_view', 'session-' || (i % 997), '{"page": ' || i || ', "pad": "'
                             || hex(randomblob(16)) || '"}', '2026-11-25T00:00:00Z' FROM n""")
        db.commit()
        db.close()
        run_quiet(binary, base, "db", "dump", "--to", "manual", "--format", "sqlite", "--no-prune", "--quiet")
        # After the dump, the store moves on: restoring it is a real change, and so is rebuilding.
        db = sqlite3.connect(os.path.join(base, STORE))
        db.execute("DELETE FROM analytics_events WHERE id % 3 = 0")
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
                                   "('products', 'upload_products')").fetchall():
            db.execute(f"UPDATE {table} SET name = name || ' (edited)' WHERE rowid % 2 = 0")
        db.commit()
        db.close()
        dumps = sorted(relative for relative, _ in lake_files(base)
                       if relative.startswith("db_dumps/manual/") and relative.endswith(".sqlite.gz"))
        dump = os.path.join(base, "datalake", dumps[-1])

        steps = {
            "db dump": ["db", "dump", "--to", "manual", "--format", "both", "--no-prune", "--quiet"],
            "db restore": ["db", "restore", dump, "--quiet"],
            "db rebuild": ["db", "rebuild", "--quiet"],
        }
        for step, arguments in steps.items():
            before = store_state(base)
            reference = self.copy(base)
            started = time.monotonic()
            run_quiet(binary, reference, *arguments)
            duration = time.monotonic() - started
            after = store_state(reference)
            expected_dump = newest_dump_state(reference) if step == "db dump" else None
            self.discard(reference)
            for _ in range(self.args.rounds):
                def begin():
                    folder = self.copy(base)
                    return start(binary, folder, arguments), folder, time.monotonic()

                def inside(folder):
                    return lambda: True  # frozen while it still runs: the command is inside its work

                def after_kill(folder, moment, attempt):
                    check_lake(folder, f"after a kill inside {step}")
                    state = store_state(folder)
                    if state not in (before, after):
                        fail(f"{step}: after the kill the store is neither its old nor its new state "
                             f"(differs from the old in {differing(state, before)}, from the new in "
                             f"{differing(state, after)})")
                    result = subprocess.run([binary, *arguments], cwd=folder, capture_output=True)
                    if result.returncode != 0:
                        fail(f"{step}: run again after the kill, it failed ({result.returncode}): "
                             f"{result.stderr.decode(errors='replace')[-2000:]}")
                    check_lake(folder, f"after {step} ran again")
                    if store_state(folder) != after:
                        fail(f"{step}: run again after the kill, the store differs from the reference")
                    if step == "db dump" and newest_dump_state(folder) != expected_dump:
                        fail(f"{step}: run again after the kill, the newest dump differs from the reference")
                    left = temporaries(folder)
                    if left:
                        fail(f"{step}: temporary files left after it ran again: {left[:5]}")
                    old_or_new = "old" if state == before else "new"
                    print(f"{step}: killed at {moment:.3f}s of {duration:.3f}s (attempt {attempt}); store whole "
                          f"in its {old_or_new} state; run again equal to the reference, no temporaries", flush=True)

                self.kill_until_inside(step, duration, begin, inside, after_kill)

    def copy(self, base):
        folder = tempfile.mkdtemp(prefix="agentshop-kill-")
        shutil.rmtree(folder)
        shutil.copytree(base, folder, symlinks=True)
        self.folders.append(folder)
        return folder

    def report(self):
        print("real kills per step (attempts):")
        for step in sorted(self.kills):
            print(f"  {step}: {self.kills[step]} ({self.attempts[step]})")
        for table, steps in sorted(self.history_differences.items()):
            print(f"  note: run-history table {table} differed from the reference's after {len(steps)} kill(s) "
                  f"(e.g. {sorted(steps)[0]})")
        total = sum(self.kills.values())
        print(f"{total} kills, each inside its step, all survived")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", nargs="+", default=["demo", "marketplace"],
                        help="pipelines/<name>.yaml to kill (those that exist)")
    parser.add_argument("--rounds", type=int, default=1, help="kills inside each step")
    parser.add_argument("--attempts", type=int, default=10, help="tries to land one kill inside a step")
    parser.add_argument("--commands", dest="commands", action="store_true", default=True)
    parser.add_argument("--no-commands", dest="commands", action="store_false")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "agentshop"))
    parser.add_argument("--keep", action="store_true", help="keep the project folders")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        fail(f"no agentshop binary at {args.binary}; build it (swift build -c release) or pass --binary")
    campaign = Campaign(args)
    demo = None
    for pipeline in args.pipelines:
        if not os.path.exists(os.path.join(ROOT, "pipelines", f"{pipeline}.yaml")):
            print(f"{pipeline}: no pipelines/{pipeline}.yaml, skipped", flush=True)
            continue
        reference = campaign.pipeline(pipeline)
        if pipeline == "demo":
            demo = reference
    if args.commands:
        if demo is None:
            fail("the store commands are killed on the demo's project: include demo in --pipelines")
        campaign.commands(demo)
    campaign.report()
    if not args.keep:
        for folder in campaign.folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
