#!/bin/sh
# Extract the reference parser (sipparty-core at REV, default main's 7cbc175)
# into old/ as package `sipparty-core-old`, for the differential check.
set -e
cd "$(dirname "$0")"
rev=${1:-7cbc175}
rm -rf old
mkdir old
git -C ../../.. archive "$rev" sipparty-core/src | tar -x -C old --strip-components=1
cat > old/Cargo.toml <<TOML
[package]
name = "sipparty-core-old"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
name = "sipparty_core_old"
path = "src/lib.rs"

[dependencies]
smallvec = { version = "1.13", features = ["union", "const_generics"] }
bitflags = "2.6"
memchr = "2.7"
tracing = "0.1"
md-5 = "0.10"
sha2 = "0.10"
TOML
