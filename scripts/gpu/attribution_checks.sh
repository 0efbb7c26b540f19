#!/usr/bin/env bash
# The checks of the layer's split on a real GPU (docs/attribution.md §2d, §2e),
# from prebuilt binaries: the engine's replay and calibration tests
# (test_cuda_profiling), then a default profile with --known-answer of each
# model, and from its JSON one PASS/MISS line with numbers per check:
#   - the Shapley additive check per phase: PASS when the residual's whole 95%
#     interval lies within +-5% of the whole layer, MISS when the whole interval
#     lies outside, INCONCLUSIVE otherwise; with the interaction row, the sums
#     of isolation and of the leave-one-out marginals, the stage-order spread
#     and the energy source (the power samples' for the 0.2 s round windows, the
#     counter's residual beside it);
#   - the Shapley split by the layer's own game per phase (shapley_layer): stage costs plus a cost
#     per GEMM->GEMM junction fitted to the 20 distinct windows of each round; PASS when every window, as the
#     fit to the other windows predicts it, has its whole 95% interval within +-5% of the layer,
#     with the worst window, the sum of the values split from the other windows against the layer
#     and the junction cost (2026-12-07, H100: decode PASS for 1B and 8B, prefill INCONCLUSIVE);
#   - the known answer per phase and method (within 10% of the copy alone);
#   - the ablations per phase, group and method (within 10% of the estimate), each with its saving's
#     95% interval over the pairs (each ablated window between two full ones, §5), the pairs' count
#     and the agreement's interval; a PASS line when every check has >= 2 pairs. Expect the MLP
#     to decide (intervals ~+-1%) and attention, ~1% of a unit, INCONCLUSIVE at the default 4
#     rounds (decode ~+-40%; PROFILE_ARGS="--ablation-rounds 32" for ~+-10%);
#     each of these verdicts judges the error +- the total of its uncertainty budget
#     (docs/attribution.md §3b): PASS only when that whole interval is inside;
#   - the uncertainty budget per phase (one INFO line per figure and check: each term's
#     half-width in % of the estimate, its basis (source: the counter's offset from the samples,
#     on the phase, J/token and a closure that mixed the two), the total and the largest term) and a
#     PASS line when every closure and check has a budget and card to card stays "not measured";
#   - the per-layer replay (--per-layer, §2f; per_layer_lines.py) per phase: PASS when every
#     layer agrees with the others (random weights: the same computation), with the spread of
#     the layers' dynamic energies and the largest |t|; a layer-skip check per row where the run
#     measured one (within 10% of the layer's estimate); the layers x stages (scripts/gpu/
#     per_layer_checks.sh has the checkpoint with a zeroed layer);
#   - the profile's wall time (the known answer adds ~60 s to the default's, --per-layer
#     ~290 s for 1B at the default 8 trials).
# Reads the GPU only: never changes its clocks, power limit or persistence mode.
#
#   bash scripts/gpu/attribution_checks.sh BIN_DIR OUT_DIR [MODEL...]
#   (default model: llama-3.2-1b; BIN_DIR holds llamajoule and test_cuda_profiling;
#    extra profile options in $PROFILE_ARGS; SKIP_TESTS=1 leaves the engine test out; PER_LAYER=0
#    leaves --per-layer out, so that 1B's default profile fits one 10-minute device call;
#    KNOWN_ANSWER=0 leaves --known-answer out, ~60 s less)
# On the device, from the repository root (about 3 minutes of build on 16 cores):
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DLLAMAJOULE_PORTABLE=ON &&
#   cmake --build build-gpu -j16 --target llamajoule test_cuda_profiling &&
#   bash scripts/gpu/attribution_checks.sh build-gpu "$OUT/attribution"
set -uo pipefail
bin_dir=$(cd "${1:?usage: attribution_checks.sh BIN_DIR OUT_DIR [MODEL...]}" && pwd)
out_dir=${2:?usage: attribution_checks.sh BIN_DIR OUT_DIR [MODEL...]}
shift 2
models=("$@")
((${#models[@]})) || models=(llama-3.2-1b)
mkdir -p "$out_dir"
results=$(cd "$out_dir" && pwd)
summary="$results/attribution.txt"
for d in "$bin_dir/../lib" /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LLAMAJOULE_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
lj="$bin_dir/llamajoule"
{ date -u +"date %Y-%m-%dT%H:%M:%SZ"; echo "command: $0 $*"; } | tee "$summary"
nvidia-smi --query-gpu=name,driver_version,power.limit,temperature.gpu --format=csv,noheader | tee -a "$summary"

if [[ ${SKIP_TESTS:-0} != 1 ]]; then
  "$bin_dir/test_cuda_profiling" >"$results/test_cuda_profiling.out" 2>&1
  rc=$?
  grep -E "^\[  (FAILED|ERROR)|LINE" "$results/test_cuda_profiling.out" | head -20
  printf '%s test_cuda_profiling (order replay, leave-one-out, calibration copy, layer skip, layer replay): rc=%d\n' \
    "$([[ $rc == 0 ]] && echo PASS || echo FAIL)" "$rc" | tee -a "$summary"
fi

for m in "${models[@]}"; do
  t0=$(date +%s.%N)
  layer_opt=--per-layer
  [[ ${PER_LAYER:-1} == 0 ]] && layer_opt=
  ka_opt=--known-answer
  [[ ${KNOWN_ANSWER:-1} == 0 ]] && ka_opt=
  "$lj" profile --model "$m" $ka_opt $layer_opt ${PROFILE_ARGS:-} -o "$results/$m.db" --json \
    >"$results/$m.json" 2>"$results/$m.txt"
  rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}')
  echo "profile $m: rc=$rc, ${secs} s (${ka_opt:-without --known-answer}, ${layer_opt:-without --per-layer})" | tee -a "$summary"
  sed -n '/== Shapley split/,/^$/p;/== Known answer/,/^$/p;/== Ablations/,/^attn:/p' "$results/$m.txt" >>"$summary"
  python3 - "$results/$m.json" "$m" "${KNOWN_ANSWER:-1}" <<'PY' | tee -a "$summary"
import json, sys
doc = json.load(open(sys.argv[1]))
model = sys.argv[2]
def pct(x):
    return "-" if x is None else "%+.1f%%" % x
def ok(b):
    return "PASS" if b else "MISS"
def source(row, counter):
    words = row.get("flags_text") or []
    if "sample_energy" not in words:
        return "source counter"
    return "source samples, counter %s%s" % (counter, " (outside the interval)" if "sources_disagree" in words else "")
sh = doc.get("shapley") or []
if not sh:
    print("MISS %s shapley: no Shapley split computed (notes: %s)" % (model, doc.get("notes", "")))
for c in sh:
    full = c["full_j"]["mean"]
    frac = lambda k: None if full in (None, 0) or c[k]["mean"] is None else c[k]["mean"] / full * 100
    print("%s %s shapley %s: residual %s [%s, %s] of the layer (%d rounds); interaction %s, "
          "sum isolation %s, sum marginals %s of the layer; stage orders %s; headline %s; %s"
          % (c.get("verdict") or "MISS", model, c["phase"], pct(c["residual_pct"]), pct(c["residual_lo_pct"]),
             pct(c["residual_hi_pct"]), c["n_rounds"], pct(frac("interaction_j")), pct(c["isolation_gap_pct"]),
             pct(c["marginal_gap_pct"]), pct(c["order_spread_pct"]), c["headline_method"],
             source(c, pct(c.get("counter_residual_pct")))))
    # the layer's own game fitted to every window of the rounds (its check: every window within +-5%)
    if not c.get("layer_windows"):
        print("MISS %s shapley_layer %s: no fit of the layer's own game (notes: %s)" % (model, c["phase"], doc.get("notes", "")))
        continue
    j = c.get("layer_junction_j") or {}
    print("%s %s shapley_layer %s: %d windows; worst window %s %s [%s, %s]; sum phi (other windows) - layer %s [%s, %s]; "
          "GEMM->GEMM junction %s of the layer; headline %s"
          % (c.get("layer_verdict") or "MISS", model, c["phase"], c["layer_windows"], c.get("layer_worst"),
             pct(c["layer_worst_pct"]), pct(c["layer_worst_lo_pct"]), pct(c["layer_worst_hi_pct"]),
             pct(c["layer_residual_pct"]), pct(c["layer_residual_lo_pct"]), pct(c["layer_residual_hi_pct"]),
             pct(None if j.get("mean") is None or not full else j["mean"] / full * 100), c["headline_method"]))
ka = doc.get("known_answer") or []
if not ka:
    print(("MISS %s known_answer: none computed" if sys.argv[3] != "0" else
           "SKIP %s known_answer: not asked for (KNOWN_ANSWER=0)") % model)
for k in ka:
    print("%s %s known_answer %s %s: %.3g J alone, %.3g J estimated, error %s [%s, %s]%s; %s"
          % (k.get("verdict") or ok(k["reliable"]), model, k["phase"], k["method"], k["truth_j"]["mean"] or 0,
             k["estimate_j"]["mean"] or 0, pct(k["error_pct"]), pct(k["error_lo_pct"]), pct(k["error_hi_pct"]),
             "" if k["reliable"] else " (unreliable for a %d MiB stage)" % (k["bytes"] >> 20),
             source(k, "%.3g J" % (k.get("counter_estimate_j") or 0))))
ab = doc.get("ablations") or []
if not ab:
    print("MISS %s ablations: none computed" % model)
def ratio_pct(a, k):
    r = (a.get("ratio") or {}).get(k)
    return None if r is None else (r - 1) * 100
for a in ab:
    sv = a["saved_j"]
    print("%s %s ablation %s %s vs %s: saved %.4g J [%.4g, %.4g] over %s pairs, estimate %.4g J per unit, "
          "agreement %s [%s, %s]; %s"
          % (a.get("verdict") or ok(a["pass"]), model, a["phase"], "attn" if a["stage"] == "attn" else "mlp", a["method"],
             sv["mean"] or 0, sv["lo"] if sv["lo"] is not None else float("nan"),
             sv["hi"] if sv["hi"] is not None else float("nan"), (a.get("full_j") or {}).get("n"),
             a["replay_j"]["mean"] or 0, pct(a["agreement_pct"]), pct(ratio_pct(a, "lo")), pct(ratio_pct(a, "hi")),
             source(a, "%.4g J" % (a.get("counter_saved_j") or 0))))
# the paired schedule: every check from >= 2 pairs (--ablation-rounds, default 4)
if ab:
    npairs = [(a.get("full_j") or {}).get("n") or 0 for a in ab]
    print("%s %s ablation pairs: %d to %d pairs a check (paired, each ablated window between two full ones)"
          % ("PASS" if min(npairs) >= 2 else "FAIL", model, min(npairs), max(npairs)))
# The uncertainty budget (docs/attribution.md §3b): per phase, each figure's and check's terms.
budgets = doc.get("budgets") or []
def term(b, t):  # source: a profile before it (schema 20) has no such field
    if b.get(t + "_basis", "not measured") in ("not measured", "") or b.get(t + "_j") is None:
        return "%s not measured" % t
    ref = abs(b["reference_j"] or 0)
    return "%s %.2f%% (%s)" % (t, b[t + "_j"] / ref * 100 if ref else float("nan"), b[t + "_basis"])
shown = [b for b in budgets if b["kind"] not in ("stage", "layer")]
for b in shown:
    what = b["kind"] if b["kind"] in ("phase", "j_per_token", "shapley") else "%s %s%s" % (
        b["kind"], b["method"], " " + b["stage"] if b["kind"] == "ablation" else "")
    print("INFO %s budget %s %s: value %.4g J, total +-%s; %s; largest %s"
          % (model, b["phase"], what, b["value_j"] or 0,
             "-" if b["total_pct"] is None else "%.2f%%" % b["total_pct"],
             ", ".join(term(b, t) for t in ("trial", "idle", "edge", "card", "source")), b.get("largest_term") or "-"))
for ph in ("prefill", "decode"):
    rows = [b for b in shown if b["phase"] == ph and b["kind"] == "phase"]
    for b in rows:
        print("INFO %s budget %s largest term of the phase figure: %s" % (model, ph, b.get("largest_term") or "-"))
kinds = {"closure": len(doc.get("closures") or []), "shapley": len(sh), "known_answer": len(ka), "ablation": len(ab)}
missing = [k for k, n in kinds.items() if sum(1 for b in budgets if b["kind"] == k) < n]
card = [b for b in budgets if b["card_basis"] != "not measured"]
print("%s %s budget: %d budgets (%d stage, %d check and phase); every closure and check has one%s; card to card "
      "not measured in every one%s"
      % ("PASS" if budgets and not missing and not card else "MISS", model, len(budgets),
         sum(1 for b in budgets if b["kind"] == "stage"), len(shown),
         "" if not missing else " except " + ", ".join(missing), "" if not card else " except %d" % len(card)))
# Trials: interleaved rounds (>= 8 per estimate by default) and the conditions of each trial.
trials = doc.get("trials") or []
conds = doc.get("trial_conditions") or []
iso = {}
for t in trials:
    if t["method"] == "isolation":
        iso.setdefault((t["phase"], t["stage"], t["kv_len"]), []).append(t)
few = [k for k, v in iso.items() if len(v) < 8]
print("%s %s trials: %d isolation estimates, %d with fewer than 8 trials; %d trials, %d with conditions"
      % ("PASS" if iso and not few else "MISS", model, len(iso), len(few), len(trials), len(conds)))
if conds:
    sm = [c["sm_clock_min_mhz"] for c in conds if c["sm_clock_min_mhz"] is not None]
    capped = [c for c in conds if c["at_cap"]]
    by = {}
    for c in capped:
        t = trials[c["trial_index"]]
        by.setdefault("%s %s %s" % (t["method"], t["phase"], t["stage"]), 0)
        by["%s %s %s" % (t["method"], t["phase"], t["stage"])] += 1
    print("INFO %s trial_conditions: SM clock %s-%s MHz, temperature %s-%s C, %d trials at the power cap%s"
          % (model, min(sm) if sm else "-", max(c["sm_clock_max_mhz"] or 0 for c in conds),
             min((c["temperature_c"] for c in conds if c["temperature_c"] is not None), default="-"),
             max((c["temperature_c"] for c in conds if c["temperature_c"] is not None), default="-"),
             len(capped), (": " + ", ".join("%s x%d" % kv for kv in sorted(by.items()))) if by else ""))
PY
  [[ -n $layer_opt ]] && python3 "$(dirname "$0")/per_layer_lines.py" "$results/$m.json" "$m" | tee -a "$summary"
done
echo "done" | tee -a "$summary"
