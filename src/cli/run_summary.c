#include "cli/run_summary.h"

#include <string.h>

#include "store/store.h"

// A table cell for an energy the window may not have (NULL in the store).
static void cell(char *buf, size_t cap, double v, int known) {
  if (known)
    snprintf(buf, cap, "%.1f", v);
  else
    snprintf(buf, cap, "-");
}

static void print_row(FILE *f, const char *label, const char *name, const lj_window_result *w) {
  int has_c = !(w->flags & LJ_WINDOW_NO_COUNTER), has_b = !(w->flags & LJ_WINDOW_NO_SAMPLES);
  int has_idle = w->idle_power_w > 0;
  char cj[32], bj[32], diff[32], peak[32], above[32], idle[32];
  cell(cj, sizeof cj, w->counter_energy_j, has_c);
  cell(bj, sizeof bj, w->sample_energy_j, has_b);
  // buffer vs counter, in % of the counter
  if (has_c && has_b && w->counter_energy_j != 0)
    snprintf(diff, sizeof diff, "%+.2f%%", (w->sample_energy_j / w->counter_energy_j - 1) * 100);
  else
    snprintf(diff, sizeof diff, "-");
  cell(peak, sizeof peak, w->peak_power_w, has_b);
  cell(above, sizeof above, has_c ? w->counter_above_idle_j : w->sample_above_idle_j, has_idle && (has_c || has_b));
  cell(idle, sizeof idle, w->idle_power_w, has_idle);
  fprintf(f, "%-4s %-26.26s %11s %11s %8s %8.1f %8s %8.2f %12s %7s\n", label, name, cj, bj, diff, w->mean_power_w,
          peak, w->duration_s, above, idle);
}

void lj_meter_summary_print(FILE *f, const meter_summary *sum, char **prog, lj_windows *windows, int handle,
                            const lj_device_info *devs, int n_dev, const char (*idle_origin)[1200]) {
  fprintf(f, "\nllamajoule meter: '%s", prog[0]);
  for (int i = 1; prog[i]; i++) fprintf(f, " %s", prog[i]);
  if (sum->signal)
    fprintf(f, "' interrupted (signal %d forwarded), exit code %d after %.2f s: run incomplete\n", sum->signal,
            sum->exit_code, sum->program_wall_s);
  else if (sum->exit_code > 128)
    fprintf(f, "' killed by signal %d after %.2f s: run incomplete\n", sum->exit_code - 128, sum->program_wall_s);
  else
    fprintf(f, "' exited with %d after %.2f s\n", sum->exit_code, sum->program_wall_s);
  fprintf(f, "%-4s %-26s %11s %11s %8s %8s %8s %8s %12s %7s\n", "GPU", "name", "counter J", "buffer J", "diff",
          "mean W", "peak W", "time s", "above idle J", "idle W");
  lj_window_result w;
  char warnings[256], label[16];
  for (int d = 0; d < n_dev; d++) {
    if (lj_windows_result(windows, handle, d, &w) != 0) continue;
    snprintf(label, sizeof label, "%d", d);
    print_row(f, label, devs[d].name, &w);
  }
  if (n_dev > 1 && lj_windows_result(windows, handle, -1, &w) == 0) print_row(f, "all", "", &w);
  for (int d = 0; d < n_dev; d++) {
    if (lj_windows_result(windows, handle, d, &w) != 0) continue;
    lj_window_flags_text(w.flags, warnings, sizeof warnings);
    if (warnings[0]) fprintf(f, "warning: GPU %d: %s\n", d, warnings);
    if (w.idle_power_w > 0 && w.mean_power_w < w.idle_power_w)
      fprintf(f,
              "note: GPU %d drew %.1f W on average, below its idle baseline of %.1f W: energy above idle is "
              "negative (a baseline taken with a CUDA context open is higher than a GPU without one)\n",
              d, w.mean_power_w, w.idle_power_w);
    if (w.integrated_reading == LJ_READING_POWER_INSTANT && !(w.flags & LJ_WINDOW_NO_SAMPLES))
      fprintf(f, "note: GPU %d: 'buffer J' integrates instant power (no driver sample buffer)\n", d);
  }
  for (int d = 0; d < n_dev; d++) fprintf(f, "idle GPU %d: %s\n", d, idle_origin[d]);
  fprintf(f, "sampler: %.2f%% of one core, %llu samples, %llu dropped, %llu driver-buffer gaps, %llu read errors\n",
          sum->stats.cpu_percent, (unsigned long long)sum->stats.samples, (unsigned long long)sum->stats.dropped,
          (unsigned long long)sum->stats.buffer_gaps, (unsigned long long)sum->stats.read_errors);
}
