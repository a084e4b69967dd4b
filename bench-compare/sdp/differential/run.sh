#!/bin/sh
# Differential check of the SDP parser against main at 7cbc175 (the parser
# before the issue-3 speed pass): extracts that commit's tree next to the
# workspace's target/ directory and runs the checker over the seed files
# and N mutations of them (default 1,000,000).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
ref=${SDP_DIFF_REF:-7cbc175}
dest="$root/target/sdp-differential-main"
if [ ! -f "$dest/.ref-$ref" ]; then
    rm -rf "$dest"
    mkdir -p "$dest"
    git -C "$root" archive "$ref" | tar -x -C "$dest"
    # Cargo refuses two packages of one name and version: rename the
    # reference, and make it the only member of its workspace.
    sed -i 's/^name = "sipparty-core"$/name = "sipparty-core-main"/' "$dest/sipparty-core/Cargo.toml"
    python3 - "$dest/Cargo.toml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"members = \[[^\]]*\]", 'members = ["sipparty-core"]', s, count=1)
open(p, "w").write(s)
PY
    touch "$dest/.ref-$ref"
fi
cd "$here"
cargo run --release -- "$root" "${1:-1000000}"
