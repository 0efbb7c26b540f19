// The decode GEMV setting of a whole run (gemv_choice.h).
#include "engine/cuda/gemv_choice.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "engine/cuda/gemv_config.h"
#include "engine/weight_format.h"

int lj_gemv_choice_parse(const char *name, int *choice) {
  if (name && !strcmp(name, "defaults")) return *choice = LJ_GEMV_CHOICE_DEFAULTS, 0;
  int cfg = lj_gemv_config_parse(name);
  if (cfg >= 0) return *choice = 1 + cfg, 0;
  char names[LJ_GEMV_CONFIG_COUNT * 6] = "";
  size_t used = 0;
  for (int k = 0; k < LJ_GEMV_CONFIG_COUNT && used < sizeof names; k++)
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", lj_gemv_config_name(k));
  return LJ_FAIL(LJ_EINVAL, "--gemv-config '%s': expected defaults (the per-shape settings) or one of %s",
                 name ? name : "", names);
}

int lj_gemv_choice_config(int choice) {
  return choice > 0 && lj_gemv_config_name(choice - 1) ? choice - 1 : -1;
}

const char *lj_gemv_choice_name(int choice) {
  return choice == LJ_GEMV_CHOICE_DEFAULTS ? "defaults" : lj_gemv_config_name(lj_gemv_choice_config(choice));
}

int lj_gemv_choice_check(int choice, int cuda, int weights, int fusion) {
  if (choice == LJ_GEMV_CHOICE_DEFAULTS) return 0;
  const char *name = lj_gemv_choice_name(choice);
  if (!name) return LJ_FAIL(LJ_EINVAL, "GEMV choice %d: not a configuration", choice);
  if (!cuda)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--gemv-config %s: the CPU engine has no GEMV configurations (they set the CUDA "
                   "engine's decode GEMVs); run on a CUDA device or use --gemv-config defaults", name);
  if (weights == LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--gemv-config %s with FP8 weights: the configurations are the bf16 GEMV's; FP8 "
                   "linear layers run the FP8 GEMV, whose pipe is bench_engine's --fp8-pipe (docs/engine-cuda.md); "
                   "use --weights bf16 or --gemv-config defaults", name);
  if (fusion != LJ_FUSION_NONE)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--gemv-config %s with --fusion %s: the fused kernels (attn_norm+qkv, "
                   "ffn_norm+gate_up+swiglu) keep their own rows per block, so the setting would not reach qkv and "
                   "gate_up; use --fusion none or --gemv-config defaults", name,
                   lj_cuda_fusion_name(fusion) ? lj_cuda_fusion_name(fusion) : "?");
  return 0;
}

int lj_cuda_apply_gemv_choice(lj_cuda_engine *e, int choice) {
  if (choice == LJ_GEMV_CHOICE_DEFAULTS) return 0;
  int cfg = lj_gemv_choice_config(choice);
  if (cfg < 0) return LJ_FAIL(LJ_EINVAL, "GEMV choice %d: not a configuration", choice);
  int every[LJ_GEMV_CLASS_COUNT];
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) every[k] = cfg;
  return lj_cuda_set_gemv_configs(e, every, NULL);
}

int lj_cuda_tp_apply_gemv_choice(lj_cuda_tp *tp, int choice) {
  for (int r = 0; r < lj_cuda_tp_degree(tp); r++) LJ_TRY(lj_cuda_apply_gemv_choice(lj_cuda_tp_rank(tp, r), choice));
  return 0;
}
