// The CUDA engine's C API in a build without CUDA: every entry point says so.
#ifndef LLAMAJOULE_HAVE_CUDA
#include <stddef.h>
#include <string.h>

#include "common/error.h"
#include "engine/cuda/cuda_engine.h"

#define NO_CUDA() LJ_FAIL(LJ_ENODEV, "this llamajoule was built without CUDA (nvcc not found at build time)")

void lj_cuda_options_default(lj_cuda_options *o) {
  memset(o, 0, sizeof *o);
  o->max_batch = 1, o->max_ctx = 2048, o->max_tokens = 2048, o->use_gemv = 1, o->print_plan = 1;
}
int lj_cuda_device_count(void) { return 0; }
void lj_cuda_driver_version(char *buf, int cap) {
  if (cap > 0) buf[0] = '\0';
}
int lj_cuda_engine_create(lj_cuda_engine **out, const lj_model_config *cfg,
                          const lj_cuda_host_weights *w, const lj_cuda_options *opt) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_engine_create_random(lj_cuda_engine **out, const lj_model_config *cfg, uint64_t seed,
                                 const lj_cuda_options *opt) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_engine_create_random_rank(lj_cuda_engine **out, const lj_model_config *cfg, int degree, int rank,
                                      uint64_t seed, const lj_cuda_options *opt) {
  *out = NULL;
  return NO_CUDA();
}
void lj_cuda_engine_free(lj_cuda_engine *e) {}
void lj_cuda_reset(lj_cuda_engine *e) {}
int lj_cuda_seq_len(const lj_cuda_engine *e, int s) { return -1; }
int lj_cuda_prefill(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens) { return NO_CUDA(); }
int lj_cuda_decode(lj_cuda_engine *e, int n_seqs, const int *tokens) { return NO_CUDA(); }
int lj_cuda_prefill_graphed(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens) { return NO_CUDA(); }
int lj_cuda_forward_batch(lj_cuda_engine *e, const int32_t *tokens, const int32_t *seq, const int32_t *pos,
                          int n, const int32_t *logit_rows, int n_logits, float *logits) {
  return NO_CUDA();
}
int lj_cuda_get_logits(lj_cuda_engine *e, float *out, int n_rows) { return NO_CUDA(); }
int lj_cuda_sample_tokens(lj_cuda_engine *e, int n_rows, const lj_cuda_sampling *s, int *out_tokens) {
  return NO_CUDA();
}
int lj_cuda_generate(lj_cuda_engine *e, int n_seqs, int n_steps, const lj_cuda_sampling *s,
                     int *out_tokens) {
  return NO_CUDA();
}
int lj_cuda_generate_more(lj_cuda_engine *e, int n_seqs, int n_more, int *out_tokens) { return NO_CUDA(); }
lj_cuda_acts lj_cuda_engine_acts(const lj_cuda_engine *e) {
  lj_cuda_acts a;
  memset(&a, 0, sizeof a);
  return a;
}
int lj_cuda_prepare_batch(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens,
                          lj_cuda_batch *out) {
  return NO_CUDA();
}
int lj_cuda_run_stage(lj_cuda_engine *e, lj_stage stage, int layer, const lj_cuda_batch *b,
                      const lj_cuda_acts *a) {
  return NO_CUDA();
}
void lj_cuda_set_skip_mask(lj_cuda_engine *e, uint32_t mask) {}
int lj_cuda_hold_outputs(lj_cuda_engine *e, int n_tokens) { return NO_CUDA(); }
int lj_cuda_set_hold_record(lj_cuda_engine *e, int on) { return NO_CUDA(); }
int lj_cuda_set_skip_layer(lj_cuda_engine *e, int layer) { return NO_CUDA(); }
void lj_cuda_set_use_gemv(lj_cuda_engine *e, int on) {}
int lj_cuda_set_fusion(lj_cuda_engine *e, int mode) { return NO_CUDA(); }
int lj_cuda_fusion(const lj_cuda_engine *e) { return LJ_FUSION_NONE; }
int lj_cuda_set_fp8_gemv(lj_cuda_engine *e, int variant) { return NO_CUDA(); }
int lj_cuda_fp8_gemv(const lj_cuda_engine *e) { return LJ_FP8_GEMV_DEFAULT; }
void lj_cuda_set_fp8_fold(lj_cuda_engine *e, int level) {}
int lj_cuda_fp8_fold(const lj_cuda_engine *e) { return LJ_CUDA_FP8_FOLD_DEFAULT; }
void lj_cuda_set_fp8_scalar_only(lj_cuda_engine *e, int on) {}
int lj_cuda_set_attn_prefill(lj_cuda_engine *e, int variant) { return NO_CUDA(); }
int lj_cuda_attn_prefill(const lj_cuda_engine *e) { return LJ_ATTN_PREFILL_DEFAULT; }
int lj_cuda_set_swiglu_quant(lj_cuda_engine *e, int variant) { return NO_CUDA(); }
int lj_cuda_swiglu_quant_variant(const lj_cuda_engine *e) { return 0; }
int lj_cuda_set_attn_decode(lj_cuda_engine *e, int variant) { return NO_CUDA(); }
int lj_cuda_attn_decode(const lj_cuda_engine *e) { return LJ_ATTN_DECODE_DEFAULT; }
int lj_cuda_set_attn_splits(lj_cuda_engine *e, int splits) { return NO_CUDA(); }
int lj_cuda_attn_splits(const lj_cuda_engine *e) { return 0; }
int lj_cuda_set_gemv_configs(lj_cuda_engine *e, const int *bf16_cfg, const int *fp8_pipe_cfg) { return NO_CUDA(); }
void lj_cuda_gemv_configs(const lj_cuda_engine *e, int *bf16_cfg, int *fp8_pipe_cfg) {
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {  // no engine exists without CUDA
    if (bf16_cfg) bf16_cfg[k] = LJ_GEMV_CONFIG_DEFAULT;
    if (fp8_pipe_cfg) fp8_pipe_cfg[k] = LJ_FP8_PIPE_CONFIG_DEFAULT;
  }
}
lj_stage lj_cuda_stage_at(const lj_cuda_engine *e, const lj_cuda_batch *b, lj_stage st) {
  return lj_stage_runs_at_degree(st, 1) ? st : LJ_STAGE_NONE;
}
void *lj_cuda_engine_stream(const lj_cuda_engine *e) { return NULL; }
int lj_cuda_synchronize(lj_cuda_engine *e) { return NO_CUDA(); }
int lj_cuda_fake_context(lj_cuda_engine *e, int n_seqs, int len, uint64_t seed) { return NO_CUDA(); }
int64_t lj_cuda_weight_bytes(const lj_cuda_engine *e) { return 0; }
int lj_cuda_weight_format(const lj_cuda_engine *e) { return LJ_WEIGHTS_BF16; }
int lj_cuda_rewind(lj_cuda_engine *e, int n_seqs, const int *len) { return NO_CUDA(); }
void lj_cuda_set_stage_sampling(lj_cuda_engine *e, const lj_cuda_sampling *s) {}
int lj_cuda_set_attn_groups(lj_cuda_engine *e, int groups) { return NO_CUDA(); }
int lj_cuda_prefill_graph_launch(lj_cuda_engine *e, int n) { return NO_CUDA(); }
int lj_cuda_replay_create(lj_cuda_engine *e, lj_stage stage, const lj_cuda_batch *b, int calls,
                          lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_attn_grid(lj_cuda_engine *e, int batch, int kv_len, int groups, int calls,
                                    lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_span(lj_cuda_engine *e, lj_stage first, lj_stage last, const lj_cuda_batch *b, int calls,
                               lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_order(lj_cuda_engine *e, const lj_stage *order, int n, const lj_cuda_batch *b, int calls,
                                lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_layer(lj_cuda_engine *e, const lj_stage *order, int n, int layer, const lj_cuda_batch *b,
                                int calls, lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int64_t lj_cuda_stage_inputs_bytes(const lj_cuda_engine *e, int n_tokens) { return 0; }
int lj_cuda_stage_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_stage_inputs **out) {
  *out = NULL;
  return NO_CUDA();
}
void lj_cuda_set_stage_inputs(lj_cuda_engine *e, const lj_cuda_stage_inputs *in) {}
int lj_cuda_stage_inputs_tokens(const lj_cuda_stage_inputs *in) { return 0; }
void lj_cuda_stage_inputs_free(lj_cuda_stage_inputs *in) {}
int64_t lj_cuda_layer_inputs_bytes(const lj_model_config *c, int n_tokens) {
  return 2 * (int64_t)(c->n_layers + 1) * n_tokens * c->dim * 2;
}
int lj_cuda_layer_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_layer_inputs **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_layer_inputs_restore(lj_cuda_engine *e, const lj_cuda_layer_inputs *in, int layer) { return NO_CUDA(); }
int lj_cuda_layer_inputs_read(const lj_cuda_layer_inputs *in, int layer, uint16_t *x, uint16_t *delta) {
  return NO_CUDA();
}
int lj_cuda_layer_inputs_tokens(const lj_cuda_layer_inputs *in) { return 0; }
void lj_cuda_layer_inputs_free(lj_cuda_layer_inputs *in) {}
int lj_cuda_replay_create_layer_input(lj_cuda_engine *e, const lj_stage *order, int n, int layer,
                                      const lj_cuda_layer_inputs *in, const lj_cuda_batch *b, int calls,
                                      lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_layer_stage(lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_layer_inputs *in,
                                      const lj_cuda_batch *b, int calls, lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_create_head_input(lj_cuda_engine *e, int slot, const lj_cuda_layer_inputs *in,
                                     const lj_cuda_batch *b, int calls, lj_cuda_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_replay_weight_copies(const lj_cuda_replay *r) { return 0; }
int lj_cuda_set_calibration(lj_cuda_engine *e, int64_t bytes) { return NO_CUDA(); }
int lj_cuda_replay_launch(lj_cuda_replay *r, int n) { return NO_CUDA(); }
int lj_cuda_replay_calls(const lj_cuda_replay *r) { return 0; }
void lj_cuda_replay_free(lj_cuda_replay *r) {}
int lj_cuda_marks_enable(lj_cuda_engine *e, int max_steps) { return NO_CUDA(); }
void lj_cuda_marks_disable(lj_cuda_engine *e) {}
int lj_cuda_marks_set_step(lj_cuda_engine *e, int step) { return NO_CUDA(); }
int lj_cuda_marks_read(lj_cuda_engine *e, int step, int decode, lj_cuda_mark_interval *out, int cap, int *n) {
  *n = 0;
  return NO_CUDA();
}
double lj_cuda_marks_alignment_ns(const lj_cuda_engine *e) { return 0; }
#else
typedef int lj_cuda_engine_nocuda_unused;  // ISO C forbids an empty translation unit
#endif
