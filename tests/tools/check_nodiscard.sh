#!/usr/bin/env bash
# Every awaitable of corio's sync primitives, task groups, async generators, sleep and threads is
# [[nodiscard]]: compiles nodiscard_check.cpp and checks that the compiler warns on each
# line marked `// discarded`, and on no other line.
#   check_nodiscard.sh <c++ compiler> <corio include dir> <nodiscard_check.cpp>
set -euo pipefail
cxx="$1" include="$2" source="$3"
name=$(basename "$source")
diagnostics=$("$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -I"$include" "$source" 2>&1 || true)
expected=$(grep -n '// discarded$' "$source" | cut -d: -f1 | sort -n)
warned=$(printf '%s\n' "$diagnostics" | grep -E "$name:[0-9]+:[0-9]+: (warning|error):" |
    grep -i 'nodiscard' | sed -E "s/.*$name:([0-9]+):.*/\1/" | sort -nu)
other=$(printf '%s\n' "$diagnostics" | grep -E "$name:[0-9]+:[0-9]+: (warning|error):" |
    grep -vi 'nodiscard' || true)
status=0
if [[ -z "$expected" ]]; then
    echo "no line marked '// discarded' in $source" >&2
    exit 1
fi
missing=$(comm -23 <(printf '%s\n' "$expected") <(printf '%s\n' "$warned"))
extra=$(comm -13 <(printf '%s\n' "$expected") <(printf '%s\n' "$warned"))
for line in $missing; do
    echo "no [[nodiscard]] warning for line $line: $(sed -n "${line}p" "$source")" >&2
    status=1
done
for line in $extra; do
    echo "unexpected [[nodiscard]] warning on line $line: $(sed -n "${line}p" "$source")" >&2
    status=1
done
if [[ -n "$other" ]]; then
    echo "other diagnostics:" >&2
    printf '%s\n' "$other" >&2
    status=1
fi
if [[ $status -eq 0 ]]; then
    echo "$(printf '%s\n' "$expected" | wc -l) discarded awaitables, each warned about"
fi
exit $status
