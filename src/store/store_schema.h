// The SQL that creates a fresh store of LJ_STORE_SCHEMA_VERSION.
#pragma once

extern const char lj_store_schema_v1[];

// "LJ01": PRAGMA application_id of a llamajoule store, so `file` and SQLite
// tools can tell it from other SQLite files.
#define LJ_STORE_APPLICATION_ID 0x4c4a3031
