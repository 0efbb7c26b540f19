// CUDA_VISIBLE_DEVICES: which GPUs a CUDA program sees, and in what order.
// Entries are indices ("0,2"), GPU UUIDs or unique prefixes of them
// ("GPU-8932f937"), or MIG ids ("MIG-..."); like CUDA, the list stops at the
// first entry that names no device.
#pragma once

#define LJ_VISIBLE_MAX 64
#define LJ_VISIBLE_TOKEN 96

// Splits the variable into entries (spaces trimmed). Returns the count, or
// -1 when env is NULL (variable unset: every GPU is visible).
int lj_visible_split(const char *env, char tokens[][LJ_VISIBLE_TOKEN], int max);

// Index into uuids[] of the device an index or GPU-UUID entry names; -1
// when none, -2 when a UUID prefix matches several. MIG ids return -3
// (the caller asks NVML for the parent GPU).
int lj_visible_match(const char *token, const char *const *uuids, int n);
