#!/bin/sh
# Instructions per operation: (Ir at N=1000 - Ir at N=0) / 1000.
set -e
cd "$(dirname "$0")"
cargo build --release -q
for op in ${*:-parse decode respond}; do
    a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/message-callgrind $op 0 2>&1 | sed -n 's/.*refs: *//p' | tr -d ,)
    b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/message-callgrind $op 1000 2>&1 | sed -n 's/.*refs: *//p' | tr -d ,)
    echo "$op: $(( (b - a) / 1000 )) instructions/op"
done
