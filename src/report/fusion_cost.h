// What the kernel boundaries cost: two profiles of the same model and card, one in the
// engine's one-kernel-per-stage mode (fusion none), one in its fused mode (production),
// compared per generated token (issue 13). `compare` prints it for every such pair.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "common/stats.h"
#include "store/profile_result.h"

typedef struct {
  lj_interval dynamic_j;   // decode J/token above idle: unfused - fused (> 0: the boundaries cost this)
  lj_interval gross_j;     // the same with the idle power in
  // Per stage group, decode: unfused - fused per token, each layer norm counted with the group
  // whose composite folds it in (attention+attn_norm, mlp+ffn_norm); estimate NAN where either run
  // has no stage estimate of that group.
  lj_interval group_dynamic_j[LJ_GROUP_COUNT];
} lj_fusion_cost;

// 1: a and b form a pair (same model, card, shapes, weights and GEMV setting; one fusion none, the other
// production); *unfused and *fused then point at them. 0 otherwise.
int lj_fusion_cost_pair(const lj_profile_result *a, const lj_profile_result *b, const lj_profile_result **unfused,
                        const lj_profile_result **fused);
// The differences with their intervals at the unfused run's level (Welch: independent runs).
// LJ_EINVAL naming what is missing when either run's decode phase was not measured.
int lj_fusion_cost_compute(const lj_profile_result *unfused, const lj_profile_result *fused, lj_fusion_cost *out);
// One paragraph: "kernel boundaries (...): decode X J/token [lo, hi] ..." and a line per group.
void lj_fusion_cost_print(FILE *f, const lj_profile_result *unfused, const lj_fusion_cost *c);
