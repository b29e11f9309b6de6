#!/bin/sh
# Seed corpora for the fuzz targets, from the team's Go fixtures: zoo
# (testdata/go/zoo), a stripped amd64 build, and a kernel core of it crashing
# (GOTRACEBACK=crash); and vars (testdata/go/vars, with DWARF: every kind of
# Go value in locals and globals) and its kernel core, for value_print.
# Needs go and core_pattern "core" (as .ci/setup sets it). Seeds are kept small:
# the core's head (ELF header, program headers, notes, first pages), the whole
# core only for goroutine_walk, which mutates a copy of it in memory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/seed-cores"
mkdir -p "$out" "$here/corpus/core_open" "$here/corpus/binary_info" "$here/corpus/goroutine_walk" "$here/corpus/value_print"
(cd "$root/testdata/go" && CGO_ENABLED=0 go build -ldflags='-s -w' -o "$out/zoo" ./zoo)
work=$(mktemp -d)
(cd "$work" && sh -c "ulimit -c unlimited; GOTRACEBACK=crash exec '$out/zoo' crash" >/dev/null 2>&1 || true)
core=$(ls "$work"/core* | head -n1)
mv "$core" "$out/zoo.core"
rm -rf "$work"
(cd "$root/testdata/go" && CGO_ENABLED=0 go build -o "$out/vars" ./vars)
work=$(mktemp -d)
(cd "$work" && sh -c "ulimit -c unlimited; GOTRACEBACK=crash exec '$out/vars'" >/dev/null 2>&1 || true)
core=$(ls "$work"/core* | head -n1)
mv "$core" "$out/vars.core"
rm -rf "$work"
# core_open: heads of the core (cut inside the notes, after them, in the data),
# and one zstd-compressed head.
for n in 4096 16384 65536; do head -c $n "$out/zoo.core" > "$here/corpus/core_open/head-$n"; done
if command -v zstd >/dev/null; then zstd -q -f -19 "$here/corpus/core_open/head-65536" -o "$here/corpus/core_open/head-65536.zst"; fi
# core_open also reaches the minidump and Mach-O readers: the same core
# rewritten by godump convert, heads only.
godump="$root/target/debug/godump"
[ -x "$godump" ] || (cd "$root" && cargo build -q -p dump --bin godump)
for f in minidump macho; do
    "$godump" convert --quiet --format $f --exe "$out/zoo" "$out/zoo.core" "$out/zoo.$f"
    head -c 65536 "$out/zoo.$f" > "$here/corpus/core_open/$f-head-65536"
    head -c 8192 "$out/zoo.$f" > "$here/corpus/core_open/$f-head-8192"
    rm -f "$out/zoo.$f"
done
# binary_info: the executable itself and its first 256 KiB.
cp "$out/zoo" "$here/corpus/binary_info/zoo"
head -c 262144 "$out/zoo" > "$here/corpus/binary_info/zoo-head"
# goroutine_walk: a few mutation lists (16-byte records).
for i in 1 2 3 4; do head -c $((16 * i * 4)) /dev/urandom > "$here/corpus/goroutine_walk/random-$i"; done
: > "$here/corpus/goroutine_walk/empty"
# value_print also over a Go 1.23 core (classic hmap maps instead of swiss
# tables): VALUE_CORE=seed-cores/vars-go1.23.core VALUE_EXE=seed-cores/vars-go1.23.
if (cd "$root/testdata/go" && GOTOOLCHAIN=go1.23.12 CGO_ENABLED=0 go build -o "$out/vars-go1.23" ./vars); then
    work=$(mktemp -d)
    (cd "$work" && sh -c "ulimit -c unlimited; GOTRACEBACK=crash exec '$out/vars-go1.23'" >/dev/null 2>&1 || true)
    mv "$(ls "$work"/core* | head -n1)" "$out/vars-go1.23.core"
    rm -rf "$work"
else
    echo "make-seeds: no go1.23.12 toolchain; no classic-map seed for value_print" >&2
fi
# value_print: a 4-byte header (limits, expression, goroutine, flags), then
# 16-byte records as for goroutine_walk.
for i in 0 1 2 3 4 5; do head -c $((4 + 16 * i * 4)) /dev/urandom > "$here/corpus/value_print/random-$i"; done
printf '\0\0\0\0' > "$here/corpus/value_print/empty"
ls -la "$out" "$here/corpus"/*
# expr_eval: every expression of the Delve comparison (testdata/go/exprs),
# each behind a frame-picking byte.
mkdir -p "$here/corpus/expr_eval"
i=0
grep -v '^#' "$root/testdata/go/exprs/exprs.txt" | grep -v '^$' | while IFS= read -r e; do
    i=$((i + 1))
    printf '\001%s' "$e" > "$here/corpus/expr_eval/e$i"
done
