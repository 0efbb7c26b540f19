#!/usr/bin/env bash
# Idle against temperature on a real GPU (docs/attribution.md §1c), from prebuilt binaries:
#   `profile --quick` of 1B with an 8 s cool-down: the curve is in the JSON and the text, its
#   bins span the cool start and the warm cool-down, and it is either used (slope interval above
#   0, about +1.5 W/C expected from issue 14) or not used with a reason in the notes;
#   `--cooldown-seconds 0`: no curve (null), the flat idle.
# Prints PASS/FAIL lines with the figures. Reads the GPU only.
#
#   bash scripts/gpu/idle_curve_checks.sh BIN_DIR OUT_DIR   (about 2 x 70 s on an H100)
set -uo pipefail
bin_dir=$(cd "${1:?usage: idle_curve_checks.sh BIN_DIR OUT_DIR}" && pwd)
results=${2:?usage: idle_curve_checks.sh BIN_DIR OUT_DIR}
mkdir -p "$results"
for d in "$bin_dir/../lib" /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LLAMAJOULE_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
lj="$bin_dir/llamajoule"
timeout 280 "$lj" profile --quick --cooldown-seconds 8 --model llama-3.2-1b -o "$results/curve.db" --json \
  >"$results/curve.json" 2>"$results/curve.err"
echo "profile --cooldown-seconds 8: rc=$?"
timeout 280 "$lj" profile --quick --cooldown-seconds 0 --model llama-3.2-1b --json >"$results/flat.json" 2>"$results/flat.err"
echo "profile --cooldown-seconds 0: rc=$?"
"$lj" report "$results/curve.db" --format text >"$results/curve.txt" 2>&1
grep -m1 "W/C" "$results/curve.txt" | sed 's/^ */text: /'
python3 - "$results/curve.json" "$results/flat.json" <<'PY'
import json, sys
def load(p):
    try: return json.load(open(p))
    except Exception as e: print(f"FAIL {p}: {e}"); sys.exit(1)
c, f = load(sys.argv[1]), load(sys.argv[2])
k = c.get("idle_curve")
if not k: print("FAIL no idle_curve in the JSON"); sys.exit(1)
print("curve: idle %.1f W at %.0f C, %+.2f W/C [%.2f, %.2f] se %.2f, r2 %.2f, bins %d over %.0f-%.0f C, "
      "cool-down %.0f s %.0f->%.0f C, used %s %s" % (k["idle_at_t0_w"] or float("nan"), k["t0_c"] or float("nan"),
      k["slope_w_per_c"] or float("nan"), k["slope_lo_w_per_c"] or float("nan"), k["slope_hi_w_per_c"] or float("nan"),
      k["slope_se_w_per_c"] or float("nan"), k["r2"] or float("nan"), k["n_bins"], k["t_min_c"] or 0, k["t_max_c"] or 0,
      k["cooldown_s"], k["cool_start_c"] or 0, k["cool_end_c"] or 0, k["used"], k["why_not_used"]))
print(("PASS" if abs(k["cooldown_s"] - 8) < 1 else "FAIL") + " cool-down length %.2f s (8 asked)" % k["cooldown_s"])
print(("PASS" if k["n_bins"] >= 2 else "FAIL") + " bins %d (the cool start and the warm cool-down)" % k["n_bins"])
if k["used"]:
    ok = 0.3 <= k["slope_w_per_c"] <= 4
    print(("PASS" if ok else "FAIL") + " slope %.2f W/C within [0.3, 4] (issue 14: about 1.5)" % k["slope_w_per_c"])
else:
    notes = " ".join(c.get("notes", []) if isinstance(c.get("notes"), list) else [str(c.get("notes", ""))])
    print(("PASS" if "Idle against temperature not used" in notes else "FAIL") + " not used, the notes say why: " + k["why_not_used"])
print(("PASS" if f.get("idle_curve") is None else "FAIL") + " --cooldown-seconds 0: no curve")
PY
