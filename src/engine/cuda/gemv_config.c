// Names and specs of the decode GEMVs' configurations (gemv_config.h); built with and without CUDA.
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "engine/cuda/gemv_config.h"

static const char *const class_names[LJ_GEMV_CLASS_COUNT] = {"qkv", "o_proj", "gate_up", "down", "lm_head"};
static const char *const bf16_names[LJ_GEMV_CONFIG_COUNT] = {"r1u1", "r1u2", "r1u4", "r2u1", "r2u2", "r2u4",
                                                             "r4u1", "r4u2", "r4u4", "r8u1", "r8u2", "r8u4"};
static const char *const fp8_names[LJ_FP8_PIPE_CONFIG_COUNT] = {"auto", "r2d1", "r2d2", "r4d1", "r4d2",
                                                                "r8d1", "r8d2", "r16d1", "r16d2"};

static int find(const char *const *names, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (!strcmp(name, names[i])) return i;
  return -1;
}

const char *lj_gemv_class_name(int cls) { return cls >= 0 && cls < LJ_GEMV_CLASS_COUNT ? class_names[cls] : NULL; }

const char *lj_gemv_config_name(int cfg) { return cfg >= 0 && cfg < LJ_GEMV_CONFIG_COUNT ? bf16_names[cfg] : NULL; }
int lj_gemv_config_parse(const char *name) { return find(bf16_names, LJ_GEMV_CONFIG_COUNT, name); }
int lj_gemv_config_rows(int cfg) { return lj_gemv_config_name(cfg) ? 1 << (cfg / 3) : 0; }
int lj_gemv_config_unroll(int cfg) { return lj_gemv_config_name(cfg) ? 1 << (cfg % 3) : 0; }

const char *lj_fp8_pipe_config_name(int cfg) {
  return cfg >= 0 && cfg < LJ_FP8_PIPE_CONFIG_COUNT ? fp8_names[cfg] : NULL;
}
int lj_fp8_pipe_config_parse(const char *name) { return find(fp8_names, LJ_FP8_PIPE_CONFIG_COUNT, name); }
int lj_fp8_pipe_config_rows(int cfg) { return lj_fp8_pipe_config_name(cfg) && cfg > 0 ? 2 << ((cfg - 1) / 2) : 0; }
int lj_fp8_pipe_config_depth(int cfg) { return lj_fp8_pipe_config_name(cfg) && cfg > 0 ? 1 + (cfg - 1) % 2 : 0; }

static int parse_cfg(const char *name, int fp8) {
  return fp8 ? lj_fp8_pipe_config_parse(name) : lj_gemv_config_parse(name);
}
static const char *cfg_name(int cfg, int fp8) { return fp8 ? lj_fp8_pipe_config_name(cfg) : lj_gemv_config_name(cfg); }

int lj_gemv_spec_parse(const char *spec, int fp8, int dflt, int cfg[LJ_GEMV_CLASS_COUNT]) {
  const char *what = fp8 ? "FP8 pipe GEMV config" : "GEMV config";
  const char *names = fp8 ? "auto, r2d1 .. r16d2" : "r1u1 .. r8u4";
  char buf[256];
  if (!spec || !*spec || strlen(spec) >= sizeof buf)
    return LJ_FAIL(LJ_EINVAL, "%s '%s': empty or too long", what, spec ? spec : "");
  int got[LJ_GEMV_CLASS_COUNT];
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) got[k] = dflt;
  strcpy(buf, spec);
  if (!strchr(buf, '=')) {  // one name for every class
    int v = parse_cfg(buf, fp8);
    if (v < 0) return LJ_FAIL(LJ_EINVAL, "%s '%s': unknown name (expected %s, or CLASS=NAME,...)", what, spec, names);
    for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) cfg[k] = v;
    return 0;
  }
  for (char *part = buf, *next; part; part = next) {
    next = strchr(part, ',');
    if (next) *next++ = '\0';
    char *eq = strchr(part, '=');
    if (!eq) return LJ_FAIL(LJ_EINVAL, "%s '%s': '%s' is not CLASS=NAME", what, spec, part);
    *eq = '\0';
    int v = parse_cfg(eq + 1, fp8);
    if (v < 0) return LJ_FAIL(LJ_EINVAL, "%s '%s': '%s' is not a configuration (expected %s)", what, spec, eq + 1, names);
    int lo, hi;
    if (!strcmp(part, "small"))
      lo = LJ_GEMV_CLASS_QKV, hi = LJ_GEMV_CLASS_O_PROJ;
    else if (!strcmp(part, "large"))
      lo = LJ_GEMV_CLASS_GATE_UP, hi = LJ_GEMV_CLASS_LM_HEAD;
    else if ((lo = hi = find(class_names, LJ_GEMV_CLASS_COUNT, part)) < 0)
      return LJ_FAIL(LJ_EINVAL, "%s '%s': unknown class '%s' (expected qkv, o_proj, gate_up, down, lm_head, small or large)",
                     what, spec, part);
    for (int k = lo; k <= hi; k++) got[k] = v;
  }
  memcpy(cfg, got, sizeof got);
  return 0;
}

void lj_gemv_spec_format(const int cfg[LJ_GEMV_CLASS_COUNT], int fp8, char *buf, size_t size) {
  int same = 1;
  for (int k = 1; k < LJ_GEMV_CLASS_COUNT; k++) same &= cfg[k] == cfg[0];
  const char *n0 = cfg_name(cfg[0], fp8);
  if (same) {
    snprintf(buf, size, "%s", n0 ? n0 : "?");
    return;
  }
  size_t at = 0;
  buf[0] = '\0';
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT && at < size; k++) {
    const char *n = cfg_name(cfg[k], fp8);
    int w = snprintf(buf + at, size - at, "%s%s=%s", k ? "," : "", class_names[k], n ? n : "?");
    if (w < 0) break;
    at += (size_t)w;
  }
}
