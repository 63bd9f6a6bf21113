#!/usr/bin/env python3
"""Calls per unit of work from two callgrind outputs: (run - baseline) / units.

    cg_calls.py RUN.callgrind BASELINE.callgrind UNITS LABEL=REGEX [LABEL=REGEX ...]

Sums the call counts of every callee whose name matches REGEX (callgrind's name compression
is resolved), subtracts the baseline run and divides by UNITS. An analysis aid for
bench/analyze.sh.
"""
import collections
import re
import sys


def calls_by_callee(path):
    names = {}
    calls = collections.Counter()
    callee = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    if line.startswith("cfn="):
                        callee = names.get(m.group(1), m.group(1))
            elif line.startswith("calls=") and callee is not None:
                calls[callee] += int(line.split("=", 1)[1].split()[0])
                callee = None
    return calls


def main():
    run, base, units = calls_by_callee(sys.argv[1]), calls_by_callee(sys.argv[2]), float(sys.argv[3])
    for spec in sys.argv[4:]:
        label, regex = spec.split("=", 1)
        pattern = re.compile(regex)
        total = sum(run[k] - base.get(k, 0) for k in run if pattern.search(k))
        print(f"{label}\t{total / units:.2f}")


if __name__ == "__main__":
    main()
