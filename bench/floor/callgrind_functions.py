"""The functions of one executable that a callgrind trace saw run, for the symbol ordering file.

Used by bench/floor/make_order.sh and bench/crawl/make_crawl_order.sh: `functions(trace, binary)` gives the
mangled names (valgrind ran with --demangle=no) of the functions of `binary` that ran an instruction, in the
order the trace first names them, without addresses (`0x…`) or valgrind's own "(below main)".
"""
import os
import re

_LINE = re.compile(r"(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")


def functions(trace, binary):
    binary = os.path.realpath(binary)
    obs, fns, ob, found, seen = {}, {}, None, [], set()
    for line in open(trace, errors="replace"):
        m = _LINE.match(line.rstrip("\n"))
        if not m:
            continue
        kind, ident, name = m.groups()
        table = obs if kind.endswith("ob") else fns
        if name is not None:  # compressed names: the first mention names the id, later ones give only the id
            table[ident] = name
        if kind == "ob":
            ob = obs.get(ident)
        elif kind == "fn" and ob and os.path.realpath(ob) == binary:
            fn = fns.get(ident)
            if fn and fn not in seen and not fn.startswith("0x") and " " not in fn:
                seen.add(fn)
                found.append(fn)
    return found
