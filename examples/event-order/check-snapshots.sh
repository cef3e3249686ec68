#!/bin/sh
# A CI step for a project that keeps its scenarios outside Rust tests: fails (status 1,
# with a unified diff) when an event order differs from its snapshot or a snapshot is
# missing; 2 on bad input. EPSIM names the binary (default: epsim on PATH).
#
# To update after a reviewed change:  epsim snapshot scenarios          (writes .snap.new)
#                                     cargo insta review                (or: --accept)
set -eu
cd "$(dirname "$0")"
exec "${EPSIM:-epsim}" snapshot scenarios --check "$@"
