// The profile's plan (see profile_plan.h) and the options' defaults.
#include "profile/profile_plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/cuda/tp_comm.h"
#include "engine/weight_format.h"
#include "model/tp_shard.h"

void lj_profile_options_default(lj_profile_options *o) {
  memset(o, 0, sizeof *o);
  o->batch = 1, o->prompt_len = 128, o->gen_len = 128;
  // 8 interleaved trials of 0.4 s per estimate: an interval over 8 randomised windows means more
  // than one over 3 back-to-back ones, and windows under 10 s take the power samples, exact
  // enough at 0.4 s (~20 samples); the default 1B profile stays near 380 s (docs/cli.md).
  o->repeats = 3, o->trials = 8;
  o->replay_seconds = 0.4, o->phase_seconds = 2.0, o->idle_seconds = 5.0;
  o->idle_w = NAN, o->level = 0.95;
  o->cooldown_seconds = 6.0;  // the card at its warmest: the idle curve's warm end (docs/attribution.md §1c)
  o->n_decode_kv = 3;
  // Back to back, an HBM-bound GEMV (decode) or a large GEMM (8B prefill) draws the
  // card's power cap and is throttled; in the real run it never is. Half-duty bursts
  // keep replay power near the run's (bench/results/profile/2026-12-04-h200.md).
  o->replay_duty = 0.5;
  o->ablation = 3;
  // Ablations: 4 paired rounds (~80 s for 1B) decide the MLP in both phases (a pair's sd ~0.2% of a
  // decode unit against its ~65%); attention, ~1% of a unit, cannot be decided in that time (decode
  // needs ~30 rounds; the arithmetic is in docs/attribution.md §5).
  o->ablation_rounds = 4;
  o->timeline = o->overhead = o->sequence = o->shapley = o->layer_stages = 1;
  // Layer skips: ~10 pairs of 2 s windows put the saving's 95% interval near +-8.5% of a 1B decode
  // layer (docs/attribution.md §2f gives the arithmetic); --quick's 4 of 1 s do not (INCONCLUSIVE).
  o->skip_rounds = 10;
  o->head_fit = 0;  // opt-in: its grid takes ~75 s for 1B on an H100 (docs/cli.md)
  // 2 replicates give the lack-of-fit test its pure error; 0.3 s windows hold ~15 power samples
  o->head_reps = 2, o->head_trial_s = 0.3;
  o->progress = 1;
  o->tp_degree = 1;
  o->tp_backend = LJ_TP_BACKEND_NCCL;
}

void lj_profile_options_quick(lj_profile_options *o) {
  o->repeats = 2, o->trials = 3;
  o->replay_seconds = 0.3, o->phase_seconds = 1.0, o->idle_seconds = 2.0;
  o->cooldown_seconds = 3.0;
  o->n_decode_kv = 2;  // the first and the last step's KV length: no step outside them
  o->sequence = o->shapley = o->head_fit = o->overhead = 0;
  o->ablation = 0;
  o->ablation_rounds = 3;  // where --ablate turns them back on
  o->skip_rounds = 4;
}

int lj_known_answer_mb(const lj_model_config *c) {
  double params = (double)c->dim * (lj_q_dim(c) + 2.0 * lj_kv_dim(c)) + (double)lj_q_dim(c) * c->dim +
                  3.0 * c->dim * c->hidden_dim;
  int mb = (int)(params * 2 / 8 / (1 << 20));
  int most = c->n_layers > 0 ? 1024 / c->n_layers : 16;  // 2 GiB: a source and a destination a layer
  if (mb > most) mb = most;
  return mb < 16 ? 16 : mb;
}

int lj_profile_plan_make(const lj_profile_options *o, lj_profile_plan *p, const char **ckpt_dir) {
  *ckpt_dir = NULL;
  snprintf(p->model, sizeof p->model, "%s", o->model);
  struct stat sb;
  if (stat(o->model, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", o->model);
    LJ_TRY(lj_config_from_json(path, &p->config));
    *ckpt_dir = o->model;
  } else if (lj_config_preset(o->model, &p->config) < 0) {
    return lj_fail_context(LJ_EINVAL, "--model '%s' is neither a checkpoint directory nor a preset", o->model);
  } else {
    p->weights_random = 1;
  }
  if (o->batch < 1 || o->prompt_len < 1 || o->gen_len < 2)
    return LJ_FAIL(LJ_EINVAL, "profile: batch %d, prompt length %d, generated length %d: need >= 1, >= 1, >= 2",
                   o->batch, o->prompt_len, o->gen_len);
  if (o->prompt_len + o->gen_len > p->config.max_seq_len)
    return LJ_FAIL(LJ_EINVAL, "--prompt-len %d + --gen-len %d exceed model %s's %d positions", o->prompt_len,
                   o->gen_len, p->config.name, p->config.max_seq_len);
  for (int i = 0; i < o->n_head_groups; i++)  // known up front: refused before anything is measured
    if (o->head_groups[i] > p->config.n_kv_heads)
      return LJ_FAIL(LJ_EINVAL, "--head-fit-groups: %d groups, but model %s has %d KV heads (1 .. %d)",
                     o->head_groups[i], p->config.name, p->config.n_kv_heads, p->config.n_kv_heads);
  snprintf(p->model_name, sizeof p->model_name, "%s", p->config.name);
  p->device = o->device, p->batch = o->batch, p->prompt_len = o->prompt_len, p->gen_len = o->gen_len;
  p->repeats = o->repeats, p->trials = o->trials, p->replay_seconds = o->replay_seconds;
  p->replay_duty = o->replay_duty;
  p->phase_seconds = o->phase_seconds, p->level = o->level, p->seed = o->seed;
  p->layers_replayed = p->config.n_layers;
  p->ablation = o->ablation, p->head_fit = o->head_fit;
  p->sequence = o->sequence, p->shapley = o->shapley;
  int ka_mb = o->known_answer_mb == LJ_KNOWN_ANSWER_AUTO ? lj_known_answer_mb(&p->config) : o->known_answer_mb;
  p->known_answer_bytes = (int64_t)ka_mb << 20;
  // "fp8-tensor" with per-tensor scales: every comparison by weights keeps the two FP8 modes apart.
  LJ_TRY(lj_fp8_scale_check(o->weights, o->fp8_scale, o->fp8_scale != LJ_FP8_SCALE_ROW));
  snprintf(p->weights, sizeof p->weights, "%s", lj_weights_label(o->weights, o->fp8_scale));
  // The fused kernels read bf16 weight rows: with FP8 the engine would run the simple stages.
  const char *fname = lj_cuda_fusion_name(o->fusion) ? lj_cuda_fusion_name(o->fusion) : "?";
  if (o->fusion != LJ_FUSION_NONE && o->weights == LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--fusion %s with --weights fp8: the fused kernels read bf16 weights "
                   "(docs/engine-cuda.md); use --weights bf16 or --fusion none", fname);
  // A prompt this short would run fused too, but the prefill methods replay the simple stages.
  if (o->fusion != LJ_FUSION_NONE && (int64_t)o->batch * o->prompt_len <= LJ_CUDA_FUSED_MAX_TOKENS)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--fusion %s with a prefill of %lld tokens (batch %d x prompt %d): "
                   "calls of at most %d tokens run fused, and the prefill's stage methods replay the simple stages; "
                   "use a prompt of more than %d tokens in all, or --fusion none", fname, (long long)o->batch * o->prompt_len,
                   o->batch, o->prompt_len, LJ_CUDA_FUSED_MAX_TOKENS, LJ_CUDA_FUSED_MAX_TOKENS);
  // Tensor parallelism: a degree that splits the model's heads and MLP rows, bf16 linear layers.
  LJ_TRY(lj_tp_check(&p->config, o->tp_degree, p->config.name));
  if (o->tp_degree > 1 && o->weights == LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--tp %d with --weights fp8: not supported yet (each rank would quantise its "
                   "own slice of o_proj's and down_proj's input, which nothing checks yet); use --weights bf16",
                   o->tp_degree);
  if (o->tp_degree > 1 && o->fusion == LJ_FUSION_NORM_ONCE)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--tp %d with --fusion norm-once: its o_proj+ffn_norm would normalise before the "
                   "all-reduce of o_proj's partial sums (docs/engine-cuda.md); use --fusion none or production",
                   o->tp_degree);
  // The engine is known later (preflight refuses the CPU engine); the weights are known now.
  LJ_TRY(lj_gemv_choice_check(o->gemv, 1, o->weights, o->fusion));
  p->tp_degree = o->tp_degree;
  snprintf(p->gemv, sizeof p->gemv, "%s", lj_gemv_choice_name(o->gemv));
  snprintf(p->fusion, sizeof p->fusion, "%s", lj_cuda_fusion_name(o->fusion) ? lj_cuda_fusion_name(o->fusion) : "none");
  // Decode KV lengths (positions cached before the step): the first and last
  // step's, and evenly between, so no step lies outside them.
  int64_t first = o->prompt_len, last = (int64_t)o->prompt_len + o->gen_len - 2;
  int n = o->n_decode_kv < 1 ? 1 : o->n_decode_kv > LJ_PROFILE_MAX_KV ? LJ_PROFILE_MAX_KV : o->n_decode_kv;
  if (last <= first) n = 1;
  p->n_decode_kv = 0;
  for (int j = 0; j < n; j++) {
    int64_t kv = n == 1 ? first : first + (last - first) * j / (n - 1);
    if (p->n_decode_kv == 0 || kv > p->decode_kv[p->n_decode_kv - 1]) p->decode_kv[p->n_decode_kv++] = kv;
  }
  return 0;
}
