#!/usr/bin/env bash
# tools/corio-gdb.py against a stopped process and against a core file of it: both print
# the known tree of tests/tools/gdb_target.cpp.
#   test_gdb.sh <gdb_target> <corio-gdb.py> <scratch dir>
set -euo pipefail
target="$1" script="$2" scratch="$3"
mkdir -p "$scratch"
core="$scratch/gdb_target.core"
rm -f "$core"

check() { # <what> <output>
    local what="$1" out="$2" failed=0
    for expected in \
        "corio: 5 tasks on the event loop" \
        "Task-1 (#1): running" \
        "  holder (#2): waiting for a timer" \
        "  blocked (#3): waiting for a mutex" \
        "  task group #" \
        "    member-a (#4): waiting for a timer" \
        "    member-b (#5): waiting for a timer" \
        "nap() ← " \
        "member()" \
        "main_task()"; do
        if ! grep -qF -- "$expected" <<<"$out"; then
            echo "$what: missing \"$expected\"" >&2
            failed=1
        fi
    done
    if ((failed)); then
        printf '%s output:\n%s\n' "$what" "$out" >&2
        exit 1
    fi
    echo "$what: the tree is complete"
}

live="$(gdb -batch -nx -ex "source $script" -ex 'break corio_gdb_stop_here' -ex run \
    -ex corio-tasks -ex "generate-core-file $core" -ex kill --args "$target" 2>&1)"
check "stopped process" "$live"

from_core="$(gdb -batch -nx -ex "source $script" -ex corio-tasks "$target" "$core" 2>&1)"
check "core file" "$from_core"
rm -f "$core"
