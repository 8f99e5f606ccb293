#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# paired.py ROUNDS JSON CLEANUP NAME PREPARE COMMAND [NAME PREPARE COMMAND]...
#
# Times short copies whose differences are smaller than the machine's
# drift: each round runs every configuration once, in an order shuffled
# anew each round, so that a slow minute lands on all of them alike
# (hyperfine runs one configuration's runs back to back).  PREPARE and
# CLEANUP run untimed around each timed COMMAND.  JSON gets hyperfine's
# shape ({"results": [{"command", "times"}]}) plus "paired": true: the
# i-th time of every configuration comes from round i, so report.py
# can take ratios round by round.
import json
import random
import statistics
import subprocess
import sys
import time

rounds, out, cleanup = int(sys.argv[1]), sys.argv[2], sys.argv[3]
args = sys.argv[4:]
if not args or len(args) % 3:
    sys.exit("paired.py: NAME PREPARE COMMAND, in threes")
configs = [tuple(args[i:i + 3]) for i in range(0, len(args), 3)]
times = {name: [] for name, _, _ in configs}
order = list(configs)
rng = random.Random(20261201)


def sh(cmd, quiet=False):
    """Run cmd; the servers' own chatter is shown only if it fails."""
    r = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE if quiet else None, text=True)
    if r.returncode:
        sys.exit(f"paired.py: exit {r.returncode}: {cmd}\n{r.stderr or ''}")


for _ in range(rounds):
    rng.shuffle(order)
    for name, prepare, command in order:
        sh(prepare, quiet=True)
        start = time.monotonic()
        sh(command)
        times[name].append(time.monotonic() - start)
        sh(cleanup, quiet=True)

for i, (name, _, _) in enumerate(configs, 1):
    t = times[name]
    print(f"Benchmark {i}: {name}\n  Time (median of {len(t)}): "
          f"{statistics.median(t) * 1000:.1f} ms "
          f"[{min(t) * 1000:.1f} ms .. {max(t) * 1000:.1f} ms]")
with open(out, "w") as f:
    json.dump({"paired": True,
               "results": [{"command": n, "times": times[n]}
                           for n, _, _ in configs]}, f)
