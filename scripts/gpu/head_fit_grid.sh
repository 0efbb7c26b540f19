#!/usr/bin/env bash
# The attention-head grid on a real GPU (docs/attribution.md, "Attention heads"), from a prebuilt
# binary: `profile --quick --head-fit` of a model (default llama-3.2-1b), decode attention alone at
# KV 512..32768 x batch 1, 8, 32 x groups 1, n/2, n, 2 trials each in one random order. Prints the
# fits (coefficients with intervals, r2, lack-of-fit F and p, the per-head cost where the fit holds),
# the skipped points with their reasons, the achieved K/V bandwidth per point, and PASS/FAIL lines:
#   - the run completes, every point measured or skipped with a reason;
#   - the grid's own time under 90 s (1B; the estimate printed before it ran beside it);
#   - energies from the power samples; per-byte energy above 0 with its interval;
#   - LACK OF FIT of each energy fit: PASS = the linear model holds (p >= 0.05), FAIL = rejected
#     (a finding about attention's energy, not a crash: the per-head cost is then absent);
#   - the per-head cost present exactly where the fit holds;
#   - no point reads K and V faster than HBM can (> 3.5 TB/s would mean the L2 served it).
# Reads the GPU only.
#
#   bash scripts/gpu/head_fit_grid.sh BIN OUTDIR [model]   (BIN: the llamajoule binary or its folder;
#                                                           1B: ~60 s of profile --quick + ~60 s of grid)
set -uo pipefail
bin=${1:?usage: head_fit_grid.sh BIN OUTDIR [model]}
dest=${2:?usage: head_fit_grid.sh BIN OUTDIR [model]}
model=${3:-llama-3.2-1b}
[[ -d $bin ]] && bin="$bin/llamajoule"
mkdir -p "$dest"
for d in "$(dirname "$bin")/../lib" /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
t0=$(date +%s.%N)
timeout 500 "$bin" profile --quick --head-fit --model "$model" -o "$dest/grid.db" --json >"$dest/grid.json" 2>"$dest/grid.err"
rc=$?
t1=$(date +%s.%N)
echo "profile --quick --head-fit --model $model: rc=$rc, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s in all"
grep "attention-head grid:" "$dest/grid.err" | sed 's/^/estimate: /'
"$bin" report "$dest/grid.db" --format text -o "$dest/grid.txt" 2>/dev/null
sed -n '/^== Attention heads/,/^+- are 95/p' "$dest/grid.txt"
python3 - "$dest/grid.json" "$model" "$rc" <<'PY'
import json, math, re, sys
path, model, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ok(c, what): print(("PASS " if c else "FAIL ") + what)
try: d = json.load(open(path))
except Exception as e: print(f"FAIL the JSON: {e}"); sys.exit(1)
ok(rc == 0 and d.get("complete"), f"the run completed (rc {rc})")
g = d.get("head_grid") or {}
pts, fits = g.get("points", []), g.get("fits", [])
meas = [p for p in pts if not p["skipped"]]
skip = [p for p in pts if p["skipped"]]
ok(len(pts) == 63 or model != "llama-3.2-1b", f"{len(pts)} points: {len(meas)} measured, {len(skip)} skipped")
for p in skip: print(f"  skipped b{p['batch']} kv{p['kv_len']} g{p['groups']}: {p['skipped']}")
ok(all(p["n_trials"] >= 2 for p in meas), "every measured point has >= 2 trials (the pure error)")
m = re.search(r"Attention-head grid: (\d+) trials in ([0-9.]+) s \(([0-9.]+) s a trial; estimated (\d+) s", d.get("notes", ""))
if m:
    n, took, per, est = int(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4))
    ok(took <= 90 or model != "llama-3.2-1b", f"the grid took {took:.1f} s for {n} trials ({per:.3f} s a trial; estimated {est:.0f} s; target <= 90 s for 1B)")
else:
    print("FAIL no grid time in the notes")
# achieved bandwidth: K and V bytes / time per call (HBM3 on an H100 SXM: ~3.35 TB/s)
bw = [(p["kv_bytes"] / p["time_s"]["mean"] / 1e12, p) for p in meas if p["time_s"] and p["time_s"]["mean"]]
for tb, p in sorted(bw, key=lambda x: x[1]["kv_bytes"])[:: max(1, len(bw) // 8)]:
    print(f"  b{p['batch']:>2} kv{p['kv_len']:>5} g{p['groups']}: {p['kv_bytes']/2**20:9.2f} MiB, "
          f"{p['time_s']['mean']*1e6:9.2f} us/call, {tb:5.2f} TB/s, {(p['dynamic_j'] or {}).get('mean') or float('nan'):.3e} J/call, fitted {p['fitted'] or float('nan'):.3e}")
top = max(bw, key=lambda x: x[0]) if bw else (0, None)
ok(top[0] < 3.5, f"no point reads K and V faster than HBM: at most {top[0]:.2f} TB/s")
big = max(meas, key=lambda p: p["kv_bytes"]) if meas else None
if big: ok(big["kv_bytes"] / big["time_s"]["mean"] > 1.0e12, f"the largest point streams at {big['kv_bytes']/big['time_s']['mean']/1e12:.2f} TB/s (> 1 TB/s)")
for f in fits:
    scope = "all batches" if f["batch"] == 0 else f"batch {f['batch']}"
    u = "J" if f["quantity"] == "dynamic_j" else "s"
    iv = lambda k: f"{f[k]['mean']:.4g} [{f[k]['lo']:.4g}, {f[k]['hi']:.4g}]" if f[k] and f[k]["mean"] is not None else "-"
    print(f"fit {scope}, {f['quantity']}: fixed {iv('fixed')} {u}, per group {iv('per_group')} {u}, per byte {iv('per_byte')} {u}/B, "
          f"r2 {f['r2']}, F {f['lof_f']} ({f['lof_df_lack']}, {f['lof_df_pure']}), p {f['lof_p']}: {f['verdict']}; "
          f"per head {iv('per_head_small')} at b{f['small_batch']} kv{f['small_kv']}, {iv('per_head_large')} at b{f['large_batch']} kv{f['large_kv']}")
    if f["quantity"] == "dynamic_j":
        ok("sample_energy" in (f.get("flags_text") or ""), f"{scope}: energy from the power samples ({f.get('flags_text')}); counter per byte {f['counter_per_byte']}, counter p {f['counter_lof_p']}")
        ok(f["per_byte"]["lo"] is not None and f["per_byte"]["lo"] > 0, f"{scope}: per-byte energy above 0 with its interval")
        ok(f["holds"] == 1, f"{scope}: LACK OF FIT p {f['lof_p']} (>= 0.05: the linear model holds; else it does not and no per-head cost is given)")
    ok((f["per_head_large"] is not None and f["per_head_large"]["mean"] is not None) == (f["holds"] == 1),
       f"{scope} {f['quantity']}: per-head cost present exactly where the fit holds")
PY
