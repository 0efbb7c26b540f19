// Characterisations: measured properties of a device (update periods, call
// costs, counter resolution, counter-vs-buffer agreement), one row each.
#include "store/store_internal.h"

int lj_store_add_characterization(lj_store *st, int64_t run_id, int device_index, const char *device_uuid,
                                  const char *quantity, double value, const char *unit, const char *detail) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO characterizations(run_id, device_index, device_uuid, quantity, value, unit,"
                          " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          &stmt, "recording a characterisation"));
  sqlite3_bind_int64(stmt, 1, run_id);
  sqlite3_bind_int(stmt, 2, device_index);
  lj_store_bind_text(stmt, 3, device_uuid);
  lj_store_bind_text(stmt, 4, quantity);
  if (value == value)
    sqlite3_bind_double(stmt, 5, value);
  else
    sqlite3_bind_null(stmt, 5);  // NaN: not measurable on this device
  lj_store_bind_text(stmt, 6, unit);
  lj_store_bind_text(stmt, 7, detail);
  return lj_store_step_once(st, stmt, "recording a characterisation");
}
