#!/bin/sh
# One game-day drill (the runner chart's CronJob): every scenario of DRILL_SCENARIOS against the
# cluster this pod runs in, with the agent of CHAOSITBENCH_AGENT (mode run), or one
# `chaositbench bench` over the scenarios and DRILL_AGENTS (mode bench). Results go to
# $DRILL_RESULTS/<UTC time>/ and every score is printed. Exits non-zero only when a scenario
# produced no score (the cluster, the image or the RBAC is at fault, not the agent).
set -u
IFS='
'
out="$DRILL_RESULTS/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "chaositbench game day: mode $DRILL_MODE, scenarios $(echo $DRILL_SCENARIOS), results in $out"
if [ "$DRILL_MODE" = bench ]; then
  set --
  for scenario in $DRILL_SCENARIOS; do set -- "$@" --scenario "$scenario"; done
  for agent in $DRILL_AGENTS; do set -- "$@" --agent "$agent"; done
  # one run at a time: every run uses this same cluster
  chaositbench bench --experiments "$DRILL_EXPERIMENTS" --repeat "$DRILL_REPEAT" --workers 1 \
    --out "$out/bench" "$@"
  test -f "$out/bench/results.json" || { echo "no bench results written" >&2; exit 1; }
  cat "$out/bench/results.json"
  exit 0
fi
status=0
for scenario in $DRILL_SCENARIOS; do
  dir="$out/$scenario"
  mkdir -p "$dir"
  echo "== $scenario (agent $CHAOSITBENCH_AGENT)"
  CHAOSITBENCH_RUN_DIR="$dir/run" CHAOSITBENCH_SCORE_PATH="$dir/score.json" \
    chaos --log-file "$dir/chaostoolkit.log" run --journal-path "$dir/journal.json" \
    "$DRILL_EXPERIMENTS/$scenario.json"
  if [ -f "$dir/score.json" ]; then
    echo "== score of $scenario:"
    cat "$dir/score.json"
  else
    echo "== $scenario produced no score (see $dir/chaostoolkit.log)" >&2
    status=1
  fi
done
exit $status
