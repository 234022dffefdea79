#!/usr/bin/env bash
# Mutation testing with mutmut 3, one module at a time, fast tests only, at low priority.
#
#   bash tests/mutation/run.sh [module ...]      (default: every module in MODULES below)
#
# mutmut 3 imports mutants from ./src, so each run works in a scratch copy laid out as
# src/<package> (the repository keeps server/, emulator/, clients/python/). Per module it prints
# killed / survived / timeout / total and the kill rate, and keeps the survivors' diffs in
# $MUTATION_OUT/<module>.survivors.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
OUT=${MUTATION_OUT:-$ROOT/build/mutation}
NICE=${MUTATION_NICE:-10}
CHILDREN=${MUTATION_CHILDREN:-2}
TESTS_REV=${MUTATION_TESTS_REV:-}
# MUTATION_TESTS_REV: a git revision whose tests judge the modules (a "before" figure).

# module (under src/) -> the fast tests that speak for it.
declare -A MODULES=(
  [avatar_bridge/errors.py]="tests/rest tests/promises/test_error_types.py tests/promises/test_error_table.py tests/server/test_converse.py"
  [avatar_bridge/registry.py]="tests/registry"
  [avatar_bridge/session_config.py]="tests/mutation_kill/test_session_config_plan.py"
  [avatar_bridge/conversation.py]="tests/mutation_kill/test_conversation_pump.py"
  [avatar_bridge/lite/core.py]="tests/core/test_lite_core.py tests/core/test_lite_core_packets.py tests/core/test_lite_core_events.py tests/core/test_lite_core_drops.py tests/core/test_lite_core_late_events.py tests/core/test_lite_core_named_events.py tests/core/test_lite_core_self_interrupt.py"
  [avatar_bridge/full/core.py]="tests/core/test_full_core.py tests/core/test_full_core_contract.py"
  [avatar_bridge/liveavatar/rest.py]="tests/rest tests/mutation_kill/test_rest_client_edges.py tests/mutation_kill/test_rest_client_remainder.py"
  [liveavatar_emulator/lite_ws.py]="tests/emulator/test_lite_ws.py tests/emulator/test_lite_ws_protocol.py tests/emulator/test_lite_ws_mutants.py"
  [liveavatar_emulator/rest.py]="tests/emulator/test_rest.py tests/emulator/test_rest_envelopes.py tests/emulator/test_rest_mutants.py"
  [liveavatar_emulator/sessions.py]="tests/emulator/test_timers.py tests/promises/test_emulator_timers.py tests/emulator/test_session_timers_exact.py"
  [liveavatar_emulator/playback.py]="tests/emulator/test_lite_ws.py tests/emulator/test_playback_model.py"
  [liveavatar_emulator/envelope.py]="tests/emulator/test_rest.py tests/emulator/test_rest_envelopes.py tests/emulator/test_rest_mutants.py"
  [liveavatar_emulator/full/agent.py]="tests/full_emulator/test_units.py tests/full_emulator/test_agent_protocol.py"
)

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  mapfile -t modules < <(printf '%s\n' "${!MODULES[@]}" | sort)
fi

mkdir -p "$OUT"
for module in "${modules[@]}"; do
  tests=${MODULES[$module]:?unknown module $module}
  work=$(mktemp -d "${TMPDIR:-/tmp}/mutation.XXXXXX")
  mkdir -p "$work/src"
  cp -r "$ROOT/server/avatar_bridge" "$ROOT/emulator/liveavatar_emulator" \
    "$ROOT/clients/python/avatar_bridge_client" "$ROOT/clients/python/avatarbridge" "$work/src/"
  if [ -n "$TESTS_REV" ]; then
    git -C "$ROOT" archive "$TESTS_REV" tests | tar -x -C "$work"
  else
    cp -r "$ROOT/tests" "$work/tests"
  fi
  present=()
  for t in $tests; do [ -e "$work/$t" ] && present+=("$t"); done
  tests="${present[*]}"
  rm -rf "$work/tests/mutation"
  find "$work" -name __pycache__ -prune -exec rm -rf {} +
  # This module only, and its tests.
  "$VENV/bin/python" - "$ROOT/pyproject.toml" "$work/pyproject.toml" "src/$module" $tests <<'PY'
import json, re, sys
source, target, module, *tests = sys.argv[1:]
text = open(source).read()
text = re.sub(r'^only_mutate = .*$', f'only_mutate = {json.dumps([module])}', text, flags=re.M)
text = re.sub(r'^pytest_add_cli_args_test_selection = .*$',
              f'pytest_add_cli_args_test_selection = {json.dumps(tests)}', text, flags=re.M)
open(target, "w").write(text)
PY
  name=$(echo "$module" | tr '/' '_')${TESTS_REV:+.$TESTS_REV}
  echo "== $module ($tests)"
  (cd "$work" && nice -n "$NICE" "$VENV/bin/mutmut" run --max-children "$CHILDREN" \
    > "$OUT/$name.log" 2>&1) || echo "   mutmut exited $? (see $OUT/$name.log)"
  (cd "$work" && "$VENV/bin/mutmut" export-cicd-stats > /dev/null 2>&1 || true)
  if [ -f "$work/mutants/mutmut-cicd-stats.json" ]; then
    cp "$work/mutants/mutmut-cicd-stats.json" "$OUT/$name.stats.json"
    "$VENV/bin/python" - "$OUT/$name.stats.json" "$module" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
judged = s["killed"] + s["survived"] + s.get("timeout", 0)
rate = 100.0 * (s["killed"] + s.get("timeout", 0)) / judged if judged else 0.0
print(f"   {sys.argv[2]}: killed {s['killed']}, survived {s['survived']}, "
      f"timeout {s.get('timeout', 0)}, no tests {s.get('no_tests', 0)}, "
      f"total {s['total']}: kill rate {rate:.1f} %")
PY
    (cd "$work" && "$VENV/bin/mutmut" results 2>/dev/null | grep -E "survived|no tests" \
      | awk -F: '{print $1}' | while read -r mutant; do
          echo "### $mutant"; "$VENV/bin/mutmut" show "$mutant" 2>/dev/null; done \
      > "$OUT/$name.survivors.txt") || true
  fi
  rm -rf "$work"
done
