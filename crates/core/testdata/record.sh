#!/bin/sh
# Records supervise/ files written by Debian's C runsv (package runit
# 2.1.2) in several states, for the decoder tests in src/status.rs.
# Usage: crates/core/testdata/record.sh [outdir]   (needs /usr/bin/runsv)
set -eu
out=$(cd "$(dirname "$0")" && pwd)/c-runsv
[ $# -gt 0 ] && out=$1
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $rpid 2>/dev/null || true; rm -rf "$tmp"' EXIT
svc=$tmp/svc
mkdir -p "$svc/log"
cat >"$svc/run" <<'RUN'
#!/bin/sh
trap '' TERM
exec sleep 1000
RUN
cat >"$svc/finish" <<'FIN'
#!/bin/sh
exec sleep 1
FIN
printf '#!/bin/sh\nexec cat >/dev/null\n' >"$svc/log/run"
chmod +x "$svc/run" "$svc/finish" "$svc/log/run"
/usr/bin/runsv "$svc" &
rpid=$!
wait_stat() { # wait until supervise/stat reads $1
  i=0
  while [ "$(cat "$svc/supervise/stat" 2>/dev/null)" != "$1" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "timeout waiting for $1" >&2; exit 1; }
    sleep 0.05
  done
}
save() { # save supervise/{status,stat,pid} as $1.*
  cp "$svc/supervise/status" "$out/$1.status"
  cp "$svc/supervise/stat" "$out/$1.stat"
  cp "$svc/supervise/pid" "$out/$1.pid"
}
wait_stat run
save run
cp "$svc/log/supervise/status" "$out/log-run.status"
cp "$svc/log/supervise/stat" "$out/log-run.stat"
printf p >"$svc/supervise/control"; wait_stat "run, paused"; save paused
printf c >"$svc/supervise/control"; wait_stat run
printf d >"$svc/supervise/control"; wait_stat "run, got TERM, want down"; save term-want-down
printf k >"$svc/supervise/control"; wait_stat "finish, want down"; save finish-want-down
wait_stat down; save down
printf x >"$svc/supervise/control"
wait $rpid || true
