#!/usr/bin/env python3
"""Check that WARC files written by AgentShop are readable by warcio, the Python WARC library.

    bench/check_warc.py FILE.warc.gz [FILE…]     check files (sets up bench/.venv with warcio first)
    bench/check_warc.py --setup                  only create bench/.venv and install warcio
    bench/check_warc.py --available              exit 0 if bench/.venv has warcio, 1 if not (installs nothing)

For each file: `warcio check -v FILE` must pass (block and payload digests as warcio verifies them),
then every record is read with warcio's ArchiveIterator and, independently of `warcio check`:
  - every record has WARC-Record-ID, WARC-Date and WARC-Type; request/response/resource/revisit
    records have WARC-Target-URI;
  - the record's content is read to its end (Content-Length honoured);
  - WARC-Block-Digest is recomputed over the whole block, and WARC-Payload-Digest over the payload
    (the HTTP body as stored, for application/http records; the block for resource records);
  - response and request records carry WARC-Payload-Digest.
Prints one line per file and a closing `N passed, N failed`. Exit 0 when every file passes,
1 when any fails, 2 on usage errors or when warcio cannot be installed.
"""
import base64
import hashlib
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(BENCH, ".venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
WARCIO_VERSION = "warcio>=1.7"


def venv_has_warcio():
    if not os.path.exists(VENV_PYTHON):
        return False
    return subprocess.run([VENV_PYTHON, "-c", "import warcio"], capture_output=True).returncode == 0


def setup():
    """Creates bench/.venv and installs warcio into it, unless it is already there."""
    if venv_has_warcio():
        return
    if not os.path.exists(VENV_PYTHON):
        print(f"creating {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    print(f"installing {WARCIO_VERSION} into {VENV}", file=sys.stderr)
    result = subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q", WARCIO_VERSION])
    if result.returncode != 0 or not venv_has_warcio():
        sys.exit(f"error: could not install warcio into {VENV}")


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def labelled_sha1(data_chunks):
    digest = hashlib.sha1()
    for chunk in data_chunks:
        digest.update(chunk)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def read_all(stream, size=1 << 16):
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


def check_file(path):
    """Problems found in one WARC file (empty when it passes), and counts by record type."""
    from warcio.archiveiterator import ArchiveIterator

    problems = []
    warcio_bin = os.path.join(os.path.dirname(sys.executable), "warcio")
    check = subprocess.run([warcio_bin, "check", "-v", path], capture_output=True, text=True)
    if check.returncode != 0:
        detail = (check.stdout + check.stderr).strip().splitlines()
        invalid = [line.strip() for line in detail if "invalid" in line.lower() or "error" in line.lower()]
        problems.append(f"`warcio check` failed (exit {check.returncode}): " + "; ".join((invalid or detail)[:5]))

    counts = {}
    try:
        with open(path, "rb") as stream:
            for index, record in enumerate(ArchiveIterator(stream, check_digests=False)):
                kind = record.rec_type
                counts[kind] = counts.get(kind, 0) + 1
                headers = record.rec_headers
                where = f"record {index} ({kind} {headers.get_header('WARC-Target-URI') or ''})".replace(" )", ")")
                for name in ("WARC-Record-ID", "WARC-Date", "WARC-Type"):
                    if not headers.get_header(name):
                        problems.append(f"{where}: no {name}")
                if kind in ("request", "response", "resource", "revisit") and not headers.get_header("WARC-Target-URI"):
                    problems.append(f"{where}: no WARC-Target-URI")
                # The payload as stored: for application/http records warcio has already consumed the
                # HTTP head, and raw_stream is the body without any decoding.
                payload = b"".join(read_all(record.raw_stream))
                head = record.http_headers.to_bytes() if record.http_headers is not None else b""
                block_digest = headers.get_header("WARC-Block-Digest")
                if block_digest and block_digest.startswith("sha1:"):
                    actual = labelled_sha1([head, payload])
                    if actual != block_digest:
                        problems.append(f"{where}: WARC-Block-Digest {block_digest}, computed {actual}")
                payload_digest = headers.get_header("WARC-Payload-Digest")
                if kind in ("request", "response") and record.http_headers is not None and not payload_digest:
                    problems.append(f"{where}: no WARC-Payload-Digest")
                if payload_digest:
                    if not payload_digest.startswith("sha1:"):
                        problems.append(f"{where}: WARC-Payload-Digest is not sha1: {payload_digest}")
                    else:
                        actual = labelled_sha1([payload])
                        if actual != payload_digest:
                            problems.append(f"{where}: WARC-Payload-Digest {payload_digest}, computed {actual}")
                length = int(headers.get_header("Content-Length") or -1)
                if length != len(head) + len(payload):
                    problems.append(f"{where}: Content-Length {length}, block has {len(head) + len(payload)} bytes")
    except Exception as error:  # a reader error is a finding, not a crash of the checker
        problems.append(f"warcio could not read the file: {type(error).__name__}: {error}")
    if not counts:
        problems.append("no records")
    return problems, counts


def main(argv):
    if argv[:1] == ["--available"]:
        sys.exit(0 if venv_has_warcio() else 1)
    if argv[:1] == ["--setup"]:
        setup()
        print(f"warcio is installed in {VENV}")
        return 0
    files = [a for a in argv if not a.startswith("-")]
    if not files or len(files) != len(argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if not in_venv():
        setup()
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + argv)

    passed = failed = 0
    for path in files:
        if not os.path.isfile(path):
            print(f"FAIL {path}: no such file")
            failed += 1
            continue
        problems, counts = check_file(path)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        if problems:
            failed += 1
            print(f"FAIL {path} ({summary})")
            for problem in problems[:20]:
                print(f"  {problem}")
            if len(problems) > 20:
                print(f"  … and {len(problems) - 20} more")
        else:
            passed += 1
            print(f"ok   {path} ({summary}; warcio check and digests verified)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
