// The SQL that creates a fresh store of LJ_STORE_SCHEMA_VERSION: the
// version-1 tables, then the tables version 2 added (the whole upgrade from
// 1), then version 3's changes to them (the whole upgrade from 2), then
// version 4's study tables (the whole upgrade from 3), then version 5's columns
// of the head fit, the ablation and the plan's weight format (the whole upgrade from 4), then
// version 6's checks and their source columns (the whole upgrade from 5), then version 7's
// per-layer tables (the whole upgrade from 6), then version 8's layers x stages (the whole upgrade from 7),
// then version 9's trial conditions (the whole upgrade from 8), then version 10's idle curves
// (the whole upgrade from 9), then version 11's head change of the last layer's skip (the whole upgrade
// from 10), then version 12's uncertainty budgets (the whole upgrade from 11), then version 13's attention-head
// grid (the whole upgrade from 12), then version 14's tensor-parallel degree and per-rank keys (the whole
// upgrade from 13: lj_store_schema_v14, then lj_store_key_by_rank), then version 15's Shapley split by the
// layer's own game (the whole upgrade from 14), then version 16's ablation windows (the whole upgrade from 15),
// then version 17's idle of each rank's GPU (the whole upgrade from 16),
// then version 18's plan sequence column and the means' standard errors (the whole upgrade from 17),
// then version 19's tp_rank of the budgets (the whole upgrade from 18), then version 20's source term of the
// budgets (the whole upgrade from 19), then version 21's GEMV setting of the plan (the whole upgrade from 20),
// then version 22's idle curves by rank (the whole upgrade from 21).
#pragma once

extern const char lj_store_schema_v1[];
extern const char lj_store_schema_v2[];
extern const char lj_store_schema_v3[];
extern const char lj_store_schema_v4[];
extern const char lj_store_schema_v5[];
extern const char lj_store_schema_v6[];
// The energy-source columns of version 6's check tables (applied right after
// lj_store_schema_v6, in a fresh file and in an upgrade alike).
extern const char lj_store_schema_v6_sources[];
extern const char lj_store_schema_v7[];  // the per-layer estimates and the layer-skip check
extern const char lj_store_schema_v8[];  // each stage of each layer replayed alone
extern const char lj_store_schema_v9[];  // the conditions of each replay trial
extern const char lj_store_schema_v10[];  // idle against temperature (the cool-down's curve)
extern const char lj_store_schema_v11[];  // the head's change in the last layer's skip check
extern const char lj_store_schema_v12[];  // the uncertainty budget of each estimate and check
extern const char lj_store_schema_v13[];  // the attention-head grid: points, fits, trials' batch
extern const char lj_store_schema_v14[];  // the plan's tensor-parallel degree
extern const char lj_store_schema_v15[];  // the Shapley split by the layer's own game
extern const char lj_store_schema_v16[];  // the ablations' windows
extern const char lj_store_schema_v17[];  // each tensor-parallel rank's idle baseline
extern const char lj_store_schema_v18[];  // the plan's sequence replay; each mean's standard error and df
extern const char lj_store_schema_v19[];  // each tensor-parallel rank's uncertainty budgets
extern const char lj_store_schema_v20[];  // the budgets' source term (counter against samples)
extern const char lj_store_schema_v21[];  // the plan's decode GEMV setting (--gemv-config)
extern const char lj_store_schema_v22[];  // the idle curves keyed by tensor-parallel rank
// Version 14's per-rank tables: each gets a tp_rank column (0 in old rows) at the head of its key.
extern const char *const lj_store_tp_rank_tables[];
extern const int lj_store_n_tp_rank_tables;
// (lj_store_key_by_rank in store_internal.h rebuilds them.)

// "LJ01": PRAGMA application_id of a llamajoule store, so `file` and SQLite
// tools can tell it from other SQLite files.
#define LJ_STORE_APPLICATION_ID 0x4c4a3031
