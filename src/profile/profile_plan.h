// What a profile will do, from its options: the model's configuration
// (preset or checkpoint), the shapes, and the decode KV lengths replayed.
#pragma once
#include "store/profile_result.h"
#include "profile/profile_run.h"

// The known answer's copy when no size is given, MiB: an eighth of one layer's bf16 linear weights,
// so that it is the same part of a layer at every model size (1B 16 MiB, 3B 24, 8B 32), at least
// 16 MiB, and at most 2 GiB of copy buffers over all layers (each layer has its source and destination).
int lj_known_answer_mb(const lj_model_config *c);

// *ckpt_dir: the checkpoint directory, or NULL for a preset (random weights).
int lj_profile_plan_make(const lj_profile_options *o, lj_profile_plan *p, const char **ckpt_dir);

// The refusals that are known before the run (a tokenizer with more ids than
// the model's vocabulary; on the CPU engine, random weights larger than the
// available memory), for the caller to make before it opens the store.
int lj_profile_preflight(const lj_profile_options *o, const lj_profile_plan *p, const char *ckpt_dir, int on_gpu);
