"""Run a command and write its wall time, CPU time and peak RSS as JSON: ``_measure.py OUT CMD...``.

It runs as a small separate interpreter (``python -I -S``) on purpose: on Linux a child's
``ru_maxrss`` starts at the RSS of the process it was forked from, so measuring straight from the
bench (which has spaCy and the Doccano client loaded) would add the bench's own memory.
"""

import json
import os
import sys
import time


def main() -> None:
    out, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump(
            {
                "seconds": dt,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "max_rss_kb": usage.ru_maxrss,
                "returncode": os.waitstatus_to_exitcode(status),
            },
            f,
        )


if __name__ == "__main__":
    main()
