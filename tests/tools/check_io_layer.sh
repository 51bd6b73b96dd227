#!/usr/bin/env bash
# The I/O driver sits under the event loop: no header of src/io/ may include
# corio/event_loop.hpp, directly or through another header. Asks the compiler for each
# header's dependencies (-MM; -MG so that a build without liburing can list
# reactor_uring.hpp too) and fails naming each header that pulls the loop in.
#   check_io_layer.sh <c++ compiler> <corio include dir> <src/io dir>
set -euo pipefail
cxx="$1" include="$2" dir="$3"
status=0
headers=("$dir"/*.hpp)
if [[ ! -e "${headers[0]}" ]]; then
    echo "no header in $dir" >&2
    exit 1
fi
for header in "${headers[@]}"; do
    deps=$("$cxx" -std=c++20 -x c++ -MM -MG -I"$include" -I"$dir" "$header")
    if grep -q 'corio/event_loop\.hpp' <<<"$deps"; then
        echo "$header includes corio/event_loop.hpp (the I/O layer must not know the loop)" >&2
        status=1
    fi
done
exit $status
