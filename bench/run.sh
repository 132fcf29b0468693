#!/usr/bin/env bash
# Measures the identity service in one command and records the results.
#
#   bench/run.sh [perf kit flags: -d 10s -c 16 -r 3 -s "otp register login identify me" -seed 200 ...]
#
# 1. builds the service and the chart tool into $BENCH_OUT (default bench/out);
# 2. starts the service on Postgres (fresh database identity_bench) + Redis
#    (db 5, flushed) on 127.0.0.1:8080, and runs the perf kit
#    (${PERF_KIT:-../shared/perf}/run.sh, flags passed through) with the
#    service as target B next to the kit's hand-written baseline (target A);
# 3. restarts the service on its embedded defaults (SQLite + in-process
#    stores, fresh DATA_DIR) and runs the kit's loadgen on each scenario of -s
#    at -c ${BENCH_CLIENTS:-16} for ${BENCH_DURATION:-10s}: the requirement is zero errors;
# 4. measures cold start (exec -> first 200 from /healthz, embedded defaults,
#    fresh DATA_DIR, median of ${BENCH_COLD_RUNS:-5}) and idle RSS (5 s after start);
# 5. writes bench/results/<date>.md (+ .jsonl data, .svg chart), refreshes
#    bench/results/latest.svg, and rewrites the README section between
#    <!-- perf:start --> and <!-- perf:end --> if the README has them.
#
# Needs go, psql, redis-cli and curl; Postgres on 127.0.0.1:5432 (user
# postgres, trust) and Redis on 127.0.0.1:6379. Everything stays on loopback.
# Env: BENCH_OUT, PERF_KIT, BENCH_DURATION, BENCH_CLIENTS, BENCH_COLD_RUNS,
# BENCH_README (default README.md), WEBHOOK (127.0.0.1:18090, shared with the kit).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

# Flags go to the kit untouched; -s and -seed also shape the embedded-defaults run.
SCEN="otp register login identify me"
SEED=200
args=("$@")
i=0
while [ "$i" -lt "${#args[@]}" ]; do
  case "${args[$i]}" in
    -h | --help) usage; exit 0 ;;
    -s) SCEN=${args[$((i + 1))]:-$SCEN}; i=$((i + 2)) ;;
    -seed) SEED=${args[$((i + 1))]:-$SEED}; i=$((i + 2)) ;;
    -d | -c | -r | -b-scenario) i=$((i + 2)) ;;
    *) i=$((i + 1)) ;;
  esac
done

KIT=$(cd "${PERF_KIT:-../shared/perf}" && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
RESULTS=$ROOT/bench/results
README=${BENCH_README:-$ROOT/README.md}
DUR=${BENCH_DURATION:-10s}
CLIENTS=${BENCH_CLIENTS:-16}
COLD_RUNS=${BENCH_COLD_RUNS:-5}
WEBHOOK=${WEBHOOK:-127.0.0.1:18090}
PG_ADMIN=postgres://postgres@127.0.0.1:5432
BENCH_DB=identity_bench
PORT=8080
URL=http://127.0.0.1:$PORT

for cmd in go psql redis-cli curl; do
  command -v "$cmd" >/dev/null || { echo "bench: $cmd is not installed" >&2; exit 1; }
done
[ -x "$KIT/run.sh" ] || { echo "bench: no perf kit at $KIT (set PERF_KIT)" >&2; exit 1; }

log() { printf '\n== %s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ------------------------------------------------------------ processes
SVC_PID="" KIT_PID="" LG_PID=""

stop_pid() { # stop_pid PID: TERM, then KILL after 10 s
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$LG_PID" ] && stop_pid "$LG_PID"
  if [ -n "$KIT_PID" ]; then # the kit runs in its own process group (baseline, loadgen)
    kill -TERM -- "-$KIT_PID" 2>/dev/null || true
    wait "$KIT_PID" 2>/dev/null || true
  fi
  [ -n "$SVC_PID" ] && stop_pid "$SVC_PID"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() { { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1; exec 3<&- 3>&-; }

# healthz: one GET /healthz in pure bash (no fork, so polling is fine-grained).
healthz() {
  local status
  { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS= read -r -t 5 status <&3 || status=""
  exec 3<&- 3>&-
  [[ $status == "HTTP/1."?" 200"* ]]
}

# start_service MODE DATA_DIR LOG: MODE is postgres or embedded. The
# environment is built from scratch so the caller's settings do not leak in.
start_service() {
  local mode=$1 data=$2 logf=$3 v
  local env=(
    PATH="$PATH" HOME="${HOME:-/tmp}" ADDR="127.0.0.1:$PORT" DATA_DIR="$data"
    SMS_PROVIDER=webhook SMS_WEBHOOK_URL="http://$WEBHOOK/sms"
    CAPTCHA_TEST_CODE=4821 SMS_PER_IP_HOUR=100000000
  )
  if [ "$mode" = postgres ]; then
    env+=(DATABASE_URL="$PG_ADMIN/$BENCH_DB?sslmode=disable" REDIS_URL=redis://127.0.0.1:6379/5)
  fi
  for v in GOMAXPROCS GOGC GOMEMLIMIT; do
    if [ -n "${!v:-}" ]; then env+=("$v=${!v}"); fi
  done
  env -i "${env[@]}" "$OUT/identity" >"$logf" 2>&1 &
  SVC_PID=$!
}

# wait_healthy LOG [TIMEOUT_S]: polls /healthz until 200; fails if the service dies.
wait_healthy() {
  local logf=$1 deadline=$((SECONDS + ${2:-60}))
  until healthz; do
    if ! kill -0 "$SVC_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "bench: the service did not become healthy; its log ($logf):" >&2
      tail -n 30 "$logf" >&2
      exit 1
    fi
  done
}

stop_service() { stop_pid "$SVC_PID"; SVC_PID=""; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# ------------------------------------------------------------ preflight
for p in "$PORT" "${WEBHOOK##*:}"; do
  if listening "$p"; then
    echo "bench: something already listens on 127.0.0.1:$p; stop it first" >&2
    exit 1
  fi
done
mkdir -p "$OUT" "$RESULTS"
STAMP_HUMAN=$(date '+%Y-%m-%d %H:%M %Z')
STAMP=$(date +%Y-%m-%d)
[ -e "$RESULTS/$STAMP.md" ] && STAMP=$(date +%Y-%m-%d-%H%M%S)
LOAD_START=$(loadavg)
log "load average at start: $LOAD_START ($(nproc) cores; anything else running skews the numbers)"

# ------------------------------------------------------------ (a) build
log "building the service and the chart tool into $OUT"
go build -o "$OUT/identity" .
go build -o "$OUT/chart" ./bench/chart

# ------------------------------------------------------------ (b, c) Postgres + Redis
log "fresh database $BENCH_DB, Redis db 5 flushed; starting the service on Postgres + Redis"
PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN/postgres?sslmode=disable" -qX -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB" >/dev/null
redis-cli -h 127.0.0.1 -p 6379 -n 5 flushdb >/dev/null
rm -rf "$OUT/data"
start_service postgres "$OUT/data" "$OUT/service-postgres.log"
wait_healthy "$OUT/service-postgres.log"
sleep 5
RSS_PG=$(rss_kib "$SVC_PID")

# ------------------------------------------------------------ (d) the perf kit
log "perf kit: A = baseline, B = $URL; flags: ${*:-(defaults)}"
mkdir -p "$OUT/kit"
KIT_LOAD_BEFORE=$(loadavg)
# The kit stays in this session, with the service: Linux's autogroup shares
# CPU fairly between sessions, so a service alone in its session would be
# held to a fair share against the load generator while the kit's baseline
# shares the kit's. Job control gives the kit its own process group, for
# the cleanup.
set -m
PERF_OUT="$OUT/kit" "$KIT/run.sh" "$@" "$URL" >"$OUT/kit-table.md" 2> >(tee "$OUT/kit.log" >&2) &
KIT_PID=$!
set +m
wait "$KIT_PID" || { rc=$?; KIT_PID=""; echo "bench: the perf kit failed (exit $rc)" >&2; exit "$rc"; }
KIT_PID=""
KIT_LOAD_AFTER=$(loadavg)
KIT_JSONL=$(ls -t "$OUT"/kit/results/run-*.jsonl | sed -n 1p)
cat "$OUT/kit-table.md" >&2
PG_LOG_ERRORS=$(grep -c 'level=ERROR' "$OUT/service-postgres.log" || true)
stop_service

# ------------------------------------------------------------ (e) embedded defaults
log "embedded defaults (SQLite + in-process stores): $SCEN, -c $CLIENTS -d $DUR"
rm -rf "$OUT/data-embedded"
start_service embedded "$OUT/data-embedded" "$OUT/service-embedded.log"
wait_healthy "$OUT/service-embedded.log"
EMB_JSONL=$OUT/embedded.jsonl
: >"$EMB_JSONL"
EMB_LOAD_BEFORE=$(loadavg)
EMB_FAILED=()
for s in $SCEN; do
  "$OUT/kit/bin/loadgen" -target "$URL" -scenario "$s" -label "$s" -c "$CLIENTS" -d "$DUR" \
    -seed "$SEED" -webhook-addr "$WEBHOOK" >>"$EMB_JSONL" 2>"$OUT/embedded-$s.err" &
  LG_PID=$!
  if ! wait "$LG_PID"; then
    EMB_FAILED+=("$s: $(tail -n 1 "$OUT/embedded-$s.err")")
  fi
  LG_PID=""
  tail -n 1 "$EMB_JSONL" >&2
done
EMB_LOAD_AFTER=$(loadavg)
EMB_LOG_ERRORS=$(grep -c 'level=ERROR' "$OUT/service-embedded.log" || true)
stop_service
EMB_TABLE=$("$OUT/kit/bin/report" "$EMB_JSONL" | grep -v '^A = ' | sed -e '/./,$!d' -e '/^| scenario/s/ A / /g')
EMB_ERRORS=$(awk -F'"errors":' 'NF > 1 { split($2, a, ","); n += a[1] } END { print n + 0 }' "$EMB_JSONL")
EMB_SAMPLES=""
if [ "$EMB_ERRORS" -gt 0 ] && command -v jq >/dev/null; then
  EMB_SAMPLES=$(jq -r 'select(.errors > 0) | "- \(.scenario): \(.errors) errors, e.g. \((.error_samples // []) | map("`" + . + "`") | join("; "))"' "$EMB_JSONL")
fi
if [ "$EMB_ERRORS" -eq 0 ] && [ "${#EMB_FAILED[@]}" -eq 0 ]; then
  EMB_VERDICT="**0 errors** at $CLIENTS clients on SQLite: requirement met."
else
  EMB_VERDICT="**$EMB_ERRORS errors** at $CLIENTS clients on SQLite${EMB_FAILED:+ and ${#EMB_FAILED[@]} failed scenario(s)}: requirement NOT met."
fi
EMB_NOTES=$EMB_SAMPLES
for f in "${EMB_FAILED[@]}"; do EMB_NOTES="${EMB_NOTES:+$EMB_NOTES$'\n'}- loadgen failed on $f"; done
echo "$EMB_TABLE" >&2
EMB_BLOCK="$EMB_VERDICT${EMB_NOTES:+$'\n\n'$EMB_NOTES}"
echo "$EMB_BLOCK" >&2

# ------------------------------------------------------------ (f) cold start and idle RSS
log "cold start: $COLD_RUNS starts on the embedded defaults, fresh DATA_DIR each"
COLD=()
for n in $(seq "$COLD_RUNS"); do
  rm -rf "$OUT/data-cold"
  t0=$(date +%s%N)
  start_service embedded "$OUT/data-cold" "$OUT/service-cold.log"
  wait_healthy "$OUT/service-cold.log"
  t1=$(date +%s%N)
  COLD+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e6 }')")
  if [ "$n" -eq "$COLD_RUNS" ]; then
    sleep 5
    RSS_EMB=$(rss_kib "$SVC_PID")
  fi
  stop_service
done
COLD_MEDIAN=$(printf '%s\n' "${COLD[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "cold start: ${COLD[*]} ms; median $COLD_MEDIAN ms; idle RSS $(mib "$RSS_EMB") (embedded), $(mib "$RSS_PG") (Postgres + Redis)" >&2
LOAD_END=$(loadavg)

# ------------------------------------------------------------ (g) results
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MACHINE="$(nproc) cores, $(uname -srm), ${CPU:-unknown CPU}"
GOVERSION=$(go version)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ] && COMMIT="$COMMIT (with uncommitted changes)"
CMD=bench/run.sh
for a in "$@"; do
  if [[ $a =~ ^[A-Za-z0-9_./:=@%+-]+$ ]]; then CMD+=" $a"; else CMD+=" \"$a\""; fi
done

cp "$KIT_JSONL" "$RESULTS/$STAMP.jsonl"
cp "$EMB_JSONL" "$RESULTS/$STAMP.embedded.jsonl"
"$OUT/chart" -in "$KIT_JSONL" -out "$RESULTS/$STAMP.svg" \
  -title "Identity service (Postgres + Redis) vs. hand-written baseline, $STAMP_HUMAN"
cp "$RESULTS/$STAMP.svg" "$RESULTS/latest.svg"

cold_cell=$(printf '%s, ' "${COLD[@]}")
SUMMARY=$(
  cat <<EOF
### Service on Postgres + Redis (B) vs. the hand-written baseline (A)

$(sed '/./,$!d' "$OUT/kit-table.md")

### Embedded defaults (SQLite + in-process stores), -c $CLIENTS -d $DUR

$EMB_TABLE

$EMB_BLOCK

### Start-up and memory

| measure | value |
|---|---:|
| cold start (exec to first 200 from /healthz; embedded defaults, fresh DATA_DIR, median of $COLD_RUNS) | $COLD_MEDIAN ms |
| idle RSS 5 s after start, embedded defaults | $(mib "$RSS_EMB") |
| idle RSS 5 s after start, Postgres + Redis | $(mib "$RSS_PG") |
EOF
)

{
  cat <<EOF
# Performance: $STAMP_HUMAN

| | |
|---|---|
| machine | $MACHINE |
| Go | $GOVERSION |
| service | commit $COMMIT |
| command | \`$CMD\` |
| load average (1/5/15 min) | start $LOAD_START; kit $KIT_LOAD_BEFORE -> $KIT_LOAD_AFTER; embedded $EMB_LOAD_BEFORE -> $EMB_LOAD_AFTER; end $LOAD_END |

The load generator and the servers share the machine's cores: compare the
targets side by side (the B/A ratio), not absolute numbers across machines.

![throughput and p99 latency](./$STAMP.svg)

$SUMMARY

Cold start runs: ${cold_cell%, } ms (polled in-process with bash /dev/tcp,
so the resolution is well under a millisecond; the binary is in the page cache).
Service logs: $PG_LOG_ERRORS ERROR lines on Postgres + Redis, $EMB_LOG_ERRORS on the embedded defaults.

Data: [kit JSON lines](./$STAMP.jsonl), [embedded-defaults JSON lines](./$STAMP.embedded.jsonl).
EOF
} >"$RESULTS/$STAMP.md"
log "wrote bench/results/$STAMP.md, bench/results/$STAMP.svg and bench/results/latest.svg"

# ------------------------------------------------------------ (h) README section
if [ -f "$README" ] && grep -q '<!-- perf:start -->' "$README" && grep -q '<!-- perf:end -->' "$README"; then
  section=$OUT/readme-section.md
  {
    echo
    echo "Measured $STAMP_HUMAN on $MACHINE with \`$CMD\`"
    echo "(load average at start $LOAD_START). Full results: [bench/results/$STAMP.md](bench/results/$STAMP.md)."
    echo
    echo "![throughput and p99 latency](bench/results/latest.svg)"
    echo
    echo "$SUMMARY"
    echo
  } >"$section"
  awk -v section="$section" '
    /<!-- perf:start -->/ && !done { print; while ((getline l < section) > 0) print l; skip = 1; next }
    /<!-- perf:end -->/ && skip { skip = 0; done = 1 }
    !skip { print }
  ' "$README" >"$OUT/README.new"
  cat "$OUT/README.new" >"$README"
  log "updated the perf section of $(basename "$README")"
fi

cat "$RESULTS/$STAMP.md"
