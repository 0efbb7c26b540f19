// The profile options of one study point: the profile runner with its parts
// switched off, so that a point costs its phase windows and little more.
#include "profile/sweep.h"

void lj_sweep_point_options(const lj_sweep_settings *s, const lj_study_point *p, lj_profile_options *o) {
  lj_profile_options_default(o);
  o->model = p->model;
  o->batch = p->batch, o->prompt_len = p->prompt_len, o->gen_len = p->gen_len;
  o->repeats = s->repeats, o->phase_seconds = s->phase_seconds, o->idle_seconds = s->idle_seconds;
  o->seed = s->seed, o->device = s->device, o->threads = s->threads, o->weights = s->weights;
  o->fp8_scale = s->fp8_scale, o->gemv = s->gemv;
  // Checks of the method, not per-point figures: the full profile has them.
  o->ablation = 0, o->head_fit = 0, o->overhead = 0, o->shapley = 0;
  if (p->stages) return;  // isolation and sequence replay, the profile's trials (8), 3 KV lengths, the timeline
  // Phase windows only: no replay trial (the runner still sets each stage's replay up
  // once, without a window), no timeline, one decode KV length.
  o->trials = 0, o->sequence = 0, o->timeline = 0, o->n_decode_kv = 1;
}
