#!/usr/bin/env bash
# One process against two shard processes (--shard 0/2, 1/2, a shared --start-at, merged),
# against one reference control plane with a fast simulated cluster; client CPU from
# /usr/bin/time -v. Run from the repository root after cargo build --release:
#   N=20000 R=2000 bash scripts/shard-measure.sh
set -u
CLUSTER=$(realpath "${CLUSTER:-docs/workloads/fast-sim.yaml}")
B=${B:-target/release/sage-cp-bench}; B=$(realpath "$B")
D=${D:-$(mktemp -d)}; rm -rf $D; mkdir -p $D; cd $D
$B serve --port 18931 --cluster "$CLUSTER" 2>serve.log &
SERVER=$!
sleep 1
N=${N:-20000}; R=${R:-2000}
COMMON="run -c http://127.0.0.1:18931 --model fast-llm -n $N -r $R -w 0 --seed 5 -q --no-visualize --cp-metrics-interval 0"
/usr/bin/time -v $B $COMMON -o one > one.out 2> one.time
S=$(( $(date +%s%3N) + 3000 ))
pids=(); for i in 0 1; do /usr/bin/time -v $B $COMMON --shard $i/2 --start-at $S --phase-gap 1 -o s$i > s$i.out 2> s$i.time & pids+=($!); done; wait "${pids[@]}"
$B merge s0/report_*.json s1/report_*.json -o merged --no-visualize > merged.out 2>&1
kill $SERVER
grep -E "^\| fifo" one.out merged.out
grep -E "User time|System time|Elapsed|Percent of CPU" one.time s0.time s1.time
for f in one/report_*.json merged/report_*.json; do python3 -c "
import json,sys; r=json.load(open('$f')); s=r['runs'][0]; sp=s['spans']
print('$f', 'total', s['summary']['requests_total'], 'ok', s['summary']['requests_succeeded'], 'thr', round(s['summary']['request_throughput_rps'],1), 'late p50/p99', s['summary']['lateness']['p50_ms'], s['summary']['lateness']['p99_ms'], 'sent span', sp.get('sent'))
"; done
