// Measurement windows, with their warnings spelled out.
#include <stdio.h>

#include "store/store_internal.h"

static const struct {
  uint32_t flag;
  const char *name;
} kWindowFlags[] = {
    {LJ_WINDOW_OPEN, "open"},
    {LJ_WINDOW_PENDING, "pending"},
    {LJ_WINDOW_SHORT, "short"},
    {LJ_WINDOW_NO_COUNTER, "no_counter"},
    {LJ_WINDOW_NO_SAMPLES, "no_samples"},
    {LJ_WINDOW_COUNTER_RESET, "counter_reset"},
    {LJ_WINDOW_GAP, "gap"},
    {LJ_WINDOW_EXTRAPOLATED, "extrapolated"},
    {LJ_WINDOW_SAMPLE_ENERGY, "sample_energy"},
    {LJ_WINDOW_SOURCES_DISAGREE, "sources_disagree"},
    {LJ_WINDOW_POWER_CAP, "power_cap"},
    {LJ_WINDOW_INCOMPLETE, "incomplete"},
};

void lj_window_flags_text(uint32_t flags, char *buf, size_t cap) {
  size_t used = 0;
  if (cap) buf[0] = '\0';
  for (size_t i = 0; i < sizeof kWindowFlags / sizeof kWindowFlags[0]; i++) {
    if (!(flags & kWindowFlags[i].flag)) continue;
    int n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "", kWindowFlags[i].name);
    if (n < 0 || (size_t)n >= cap - used) break;
    used += (size_t)n;
  }
}

// An energy the window could not measure is NULL, not 0.
static void bind_energy(sqlite3_stmt *stmt, int col, double value, int known) {
  if (known)
    sqlite3_bind_double(stmt, col, value);
  else
    sqlite3_bind_null(stmt, col);
}

int lj_store_add_window(lj_store *st, int64_t run_id, const lj_window_result *w, int64_t parent_id,
                        int64_t *window_id) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO windows(run_id, parent_id, name, device_index, begin_ns, end_ns, duration_s,"
                          " counter_j, counter_updates, buffer_j, n_samples, integrated_reading, mean_w, peak_w,"
                          " idle_w, counter_above_idle_j, buffer_above_idle_j, flags, warnings)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          &stmt, "recording a window"));
  int has_counter = !(w->flags & LJ_WINDOW_NO_COUNTER), has_samples = !(w->flags & LJ_WINDOW_NO_SAMPLES);
  char warnings[256];
  lj_window_flags_text(w->flags, warnings, sizeof warnings);
  sqlite3_bind_int64(stmt, 1, run_id);
  if (parent_id > 0)
    sqlite3_bind_int64(stmt, 2, parent_id);
  else
    sqlite3_bind_null(stmt, 2);
  lj_store_bind_text(stmt, 3, w->name);
  if (w->device >= 0)
    sqlite3_bind_int(stmt, 4, w->device);
  else
    sqlite3_bind_null(stmt, 4);  // the sum over devices
  sqlite3_bind_int64(stmt, 5, w->begin_ns);
  sqlite3_bind_int64(stmt, 6, w->end_ns);
  sqlite3_bind_double(stmt, 7, w->duration_s);
  bind_energy(stmt, 8, w->counter_energy_j, has_counter);
  sqlite3_bind_int(stmt, 9, w->counter_updates);
  bind_energy(stmt, 10, w->sample_energy_j, has_samples);
  sqlite3_bind_int(stmt, 11, w->n_samples);
  if (has_samples && w->integrated_reading >= 0 && w->integrated_reading < LJ_READING_COUNT)
    lj_store_bind_text(stmt, 12, lj_reading_name((lj_reading)w->integrated_reading));
  else
    sqlite3_bind_null(stmt, 12);
  bind_energy(stmt, 13, w->mean_power_w, has_counter || has_samples);
  bind_energy(stmt, 14, w->peak_power_w, has_samples);
  bind_energy(stmt, 15, w->idle_power_w, w->idle_power_w > 0);
  bind_energy(stmt, 16, w->counter_above_idle_j, has_counter && w->idle_power_w > 0);
  bind_energy(stmt, 17, w->sample_above_idle_j, has_samples && w->idle_power_w > 0);
  sqlite3_bind_int64(stmt, 18, w->flags);
  lj_store_bind_text(stmt, 19, warnings);
  LJ_TRY(lj_store_step_once(st, stmt, "recording a window"));
  if (window_id) *window_id = sqlite3_last_insert_rowid(st->db);
  return 0;
}
