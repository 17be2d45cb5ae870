#!/usr/bin/env bash
# Usage: tools/cpu_time.sh COMMAND [ARG...]
#
# Runs COMMAND and prints its wall time and the CPU time of COMMAND and every process it
# started, Chromium's included. `time` misses the processes that are not waited for by
# their parent (Playwright's browser), so the README's CPU figures come from this script: it
# puts COMMAND in a cgroup of its own (v1 `cpuacct`, as on the project's machine; needs root)
# and reads the group's counter. Another program running meanwhile is not counted.
set -euo pipefail
group=/sys/fs/cgroup/cpuacct/cpu_time.$$
if ! mkdir "$group" 2>/dev/null; then
    echo "tools/cpu_time.sh: cannot create the cgroup $group (needs root and cgroup v1 cpuacct)" >&2
    exit 2
fi
trap 'rmdir "$group" 2>/dev/null || echo "tools/cpu_time.sh: could not remove $group" >&2' EXIT
start=$(date +%s.%N)
status=0
# The command starts only once its shell is in the group; if it cannot join, nothing runs.
bash -c 'echo $$ > "$1/tasks" || { echo "tools/cpu_time.sh: cannot join the cgroup $1" >&2; exit 2; }
         shift; exec "$@"' _ "$group" "$@" || status=$?
end=$(date +%s.%N)
python3 -c 'import sys; w = float(sys.argv[2]) - float(sys.argv[1]); c = int(sys.argv[3]) / 1e9
print(f"wall {w:.1f} s, CPU {c:.1f} s (this command and all its processes)", file=sys.stderr)' \
    "$start" "$end" "$(cat "$group/cpuacct.usage")"
exit "$status"
