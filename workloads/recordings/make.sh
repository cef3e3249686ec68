#!/bin/sh
# Remakes the recordings in this directory on the host's kernel (see README.md).
# Needs: strace, python3, node, gcc, redis-server and redis-benchmark.
set -eu
PY=$(python3 -c "import sys; print(sys.executable)")
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Host paths out: the working directory, the home directory, the interpreter's prefix.
# (A server's stdout goes to a file in $work, so that no path of the caller's shows.)
scrub() {
    sed -e "s#$work#/tmp/work#g" -e "s#$(pwd)#/recordings#g" -e "s#$HOME#/home/user#g" \
         "$1" > "$2"
}

# 1. selectors-style program: -yy decorations, no timestamps.
strace -f -yy -o "$work/selectors.strace" "$PY" selectors_mix.py > /dev/null
scrub "$work/selectors.strace" selectors-mix.strace

# 2. asyncio echo server, 4 concurrent clients (untraced): -tt timestamps, -T durations.
strace -f -yy -tt -T -o "$work/asyncio.strace" "$PY" asyncio_echo.py 18081 4 &
sleep 3
python3 echo_clients.py 18081 4
wait
scrub "$work/asyncio.strace" asyncio-echo.strace

# 3. Node (libuv) echo server, 4 clients: -ttt timestamps, -X verbose.
strace -f -yy -ttt -X verbose -o "$work/node.strace" node node_server.js 18082 4000 &
sleep 3
python3 echo_clients.py 18082 4
wait
scrub "$work/node.strace" node-echo.strace

# 4. three threads on one edge-triggered set: -r relative timestamps.
gcc -O2 -pthread -o "$work/et_threads" et_threads.c
strace -f -yy -r -o "$work/et.strace" "$work/et_threads"
scrub "$work/et.strace" et-threads.strace

# 5. redis-server under redis-benchmark (8,000 requests of each of GET and SET, one client: see
#    docs/recordings.md for four), the server only.
strace -f -yy -o "$work/redis.strace" -e trace='!mmap,munmap,mprotect,madvise,brk' \
    redis-server --port 18083 --save '' --appendonly no --daemonize no > "$work/redis.out" &
sleep 3
redis-benchmark -p 18083 -n 8000 -c 1 -t get,set -q > /dev/null
redis-cli -p 18083 shutdown nosave > /dev/null 2>&1 || true
wait || true
scrub "$work/redis.strace" redis-benchmark.strace

# 6. the same with 6 concurrent clients, few requests: replies come back while the server
#    waits, so the ready order depends on where the arrivals land (docs/recordings.md,
#    "The placement search").
strace -f -yy -o "$work/redis6.strace" -e trace='!mmap,munmap,mprotect,madvise,brk' \
    redis-server --port 18084 --save '' --appendonly no --daemonize no > "$work/redis6.out" &
sleep 3
redis-benchmark -p 18084 -n 300 -c 6 -t get,set -q > /dev/null
redis-cli -p 18084 shutdown nosave > /dev/null 2>&1 || true
wait || true
scrub "$work/redis6.strace" redis-clients.strace
ls -l *.strace
