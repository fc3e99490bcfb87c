#!/bin/bash
# The 600 toy-problem searches of docs/results/search.md ("The same searches as before"): the
# same program built against dcl-evo before the ask/tell rewrite (commit 30bf684) and against
# this checkout must print the same query sequences. Prints IDENTICAL or the first difference.
set -e
repo=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
git -C "$repo" worktree add --detach "$work/old" 30bf684 >/dev/null
trap 'git -C "$repo" worktree remove --force "$work/old"; rm -rf "$work"' EXIT
for side in old new; do
  root=$([ $side = old ] && echo "$work/old" || echo "$repo")
  mkdir -p "$work/$side/parity/src"
  cp "$repo/docs/results/search_logs/parity/src/main.rs" "$work/$side/parity/src/"
  cat > "$work/$side/parity/Cargo.toml" <<TOML
[package]
name = "parity"
version = "0.1.0"
edition = "2024"
[dependencies]
dcl-evo = { path = "$root/crates/dcl-evo" }
dcl-graph = { path = "$root/crates/dcl-graph" }
rand = { version = "0.10", default-features = false, features = ["std", "alloc"] }
rand_chacha = "0.10"
[workspace]
TOML
  (cd "$work/$side/parity" && cargo run --release -q > "$work/$side.txt")
done
cmp "$work/old.txt" "$work/new.txt" && echo "IDENTICAL ($(wc -l < "$work/new.txt") searches)"
