// lj_weights: loading an HF checkpoint (memory-mapped safetensors), random
// weights for a preset, shape checks, freeing.
#include "model/weights.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/error.h"
#include "common/mem_available.h"
#include "common/progress.h"
#include "model/random_init.h"
#include "model/safetensors.h"
#include "model/weights_layout.h"

struct lj_weight_storage {
  lj_st_set set;          // mapped checkpoint files (loaded weights)
  uint16_t *random;       // bf16 values of every tensor (random weights), mmap'd
  size_t random_bytes;
  lj_weight_slot *slots;  // the tensor list; the views' names point here
  int n_slots;
  void **owned;           // malloc'd buffers (FP8 codes and scales), freed with the weights
  int n_owned;
};

int lj_weights_adopt(lj_weights *w, void *p) {
  struct lj_weight_storage *s = w->storage;
  void **grown = s ? realloc(s->owned, ((size_t)s->n_owned + 1) * sizeof *grown) : NULL;
  if (!grown) {
    free(p);
    return LJ_FAIL(LJ_ENOMEM, "out of memory for the weight buffers");
  }
  s->owned = grown;
  s->owned[s->n_owned++] = p;
  return LJ_OK;
}

int lj_weights_is_linear(const lj_weights *w, const lj_tensor *t) {
  for (int l = 0; l < w->config.n_layers; l++) {
    const lj_layer_weights *L = &w->layers[l];
    if (t == &L->wq || t == &L->wk || t == &L->wv || t == &L->wo || t == &L->w_gate || t == &L->w_up ||
        t == &L->w_down)
      return 1;
  }
  return 0;
}

static int begin_weights(const lj_model_config *c, lj_weights *w) {
  memset(w, 0, sizeof *w);
  w->config = *c;
  w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
  w->storage = calloc(1, sizeof *w->storage);
  int n = lj_weight_slot_count(c);
  if (w->storage) w->storage->slots = calloc((size_t)n, sizeof *w->storage->slots);
  if (!w->layers || !w->storage || !w->storage->slots) {
    lj_weights_free(w);
    return LJ_FAIL(LJ_ENOMEM, "out of memory for the weight list of %d layers", c->n_layers);
  }
  w->storage->n_slots = n;
  lj_weight_slots(w, w->storage->slots);
  for (int i = 0; i < n; i++) w->storage->slots[i].t->name = w->storage->slots[i].name;
  return LJ_OK;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < ndim && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (len < cap) snprintf(buf + len, cap - len, "]");
}

static void expected_shape(const lj_weight_slot *slot, char *buf, size_t cap) {
  int64_t want[2] = {slot->rows, slot->cols};
  format_shape(buf, cap, slot->cols ? 2 : 1, want);
}

static int check_slot(const lj_weight_slot *slot, const char *origin) {
  const lj_tensor *t = slot->t;
  char want[64];
  expected_shape(slot, want, sizeof want);
  if (!t->data && lj_tensor_numel(t) != 0)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' is missing (expected shape %s)", origin, slot->name, want);
  int want_ndim = slot->cols ? 2 : 1;
  if (t->ndim != want_ndim || t->shape[0] != slot->rows || (want_ndim == 2 && t->shape[1] != slot->cols)) {
    char got[64];
    format_shape(got, sizeof got, t->ndim, t->shape);
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' has shape %s; the configuration needs %s", origin, slot->name, got, want);
  }
  if (t->dtype == LJ_DTYPE_F8_E4M3 && (!t->scale || want_ndim != 2))
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' is F8_E4M3 without per-row scales", origin, slot->name);
  return LJ_OK;
}

int lj_weights_check(const lj_weights *w, const char *origin) {
  for (int i = 0; i < w->storage->n_slots; i++) LJ_TRY(check_slot(&w->storage->slots[i], origin));
  return LJ_OK;
}

static int load_slots(const char *dir, lj_weights *w) {
  struct lj_weight_storage *s = w->storage;
  LJ_TRY(lj_st_set_open(dir, &s->set));
  for (int i = 0; i < s->n_slots; i++) {
    lj_weight_slot *slot = &s->slots[i];
    const lj_st_tensor *st = lj_st_set_find(&s->set, slot->name);
    if (!st) {
      char want[64];
      expected_shape(slot, want, sizeof want);
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' is missing from %s (expected shape %s)", dir, slot->name,
                     s->set.n_files == 1 ? s->set.files[0].path : "every shard", want);
    }
    if (st->ndim < 1 || st->ndim > 2) {
      char got[128], want[64];
      format_shape(got, sizeof got, st->ndim, st->shape);
      expected_shape(slot, want, sizeof want);
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' has shape %s; the configuration needs %s", st->file, slot->name, got,
                     want);
    }
    *slot->t = (lj_tensor){st->data, st->dtype, st->ndim, {st->shape[0], st->ndim == 2 ? st->shape[1] : 0}, slot->name, NULL};
    if (st->dtype == LJ_DTYPE_F8_E4M3 && st->ndim == 2) LJ_TRY(lj_weights_fp8_scales(w, &s->set, slot->t, st->file));
    LJ_TRY(check_slot(slot, st->file));
  }
  if (w->config.tie_embeddings) w->lm_head = w->embed;
  return lj_weights_check_unused(&w->config, s->slots, s->n_slots, &s->set);
}

int lj_weights_load(const char *dir, lj_weights *out) {
  memset(out, 0, sizeof *out);
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
    return LJ_FAIL(LJ_EINVAL, "checkpoint path too long: %s", dir);
  lj_model_config c;
  LJ_TRY(lj_config_from_json(path, &c));
  LJ_TRY(begin_weights(&c, out));
  int rc = load_slots(dir, out);
  if (rc < 0) lj_weights_free(out);
  return rc;
}

int lj_weights_check_checkpoint(const char *dir) {
  lj_weights w;
  LJ_TRY(lj_weights_load(dir, &w));
  lj_weights_free(&w);
  return LJ_OK;
}

// ---- random weights
// Anonymous memory with transparent huge pages where the kernel allows them:
// a 1B model's 2.5 GB would otherwise cost ~600k page faults on first touch.
static void *alloc_big(size_t bytes) {
  void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}
typedef struct {
  const lj_weight_slot *slots;
  uint16_t **dst;      // per slot: where its values go
  int64_t chunk;       // elements per work item
  int64_t *first_item; // per slot: index of its first work item (n_slots + 1 entries)
  int n_slots;
  uint64_t seed;
  atomic_llong next;   // next work item
  atomic_llong filled; // elements written (a slot's last item is short: items x chunk overshoots)
} fill_job;

static void fill_item(fill_job *j, int64_t item) {
  int s = 0;
  while (s + 1 < j->n_slots && j->first_item[s + 1] <= item) s++;
  const lj_weight_slot *slot = &j->slots[s];
  int64_t numel = slot->rows * (slot->cols ? slot->cols : 1);
  int64_t begin = (item - j->first_item[s]) * j->chunk, end = begin + j->chunk;
  if (end > numel) end = numel;
  for (int64_t i = begin; i < end; i++) {
    float v = slot->is_norm ? lj_random_norm_weight(j->seed, slot->random_id, (uint64_t)i)
                            : lj_random_matrix_weight(j->seed, slot->random_id, (uint64_t)i);
    j->dst[s][i] = lj_f32_to_bf16(v);
  }
  atomic_fetch_add(&j->filled, end - begin);
}

static void fill_items(fill_job *j, lj_progress *progress) {
  for (;;) {
    int64_t item = atomic_fetch_add(&j->next, 1);
    if (item >= j->first_item[j->n_slots]) return;
    fill_item(j, item);
    if (progress) lj_progress_update(progress, atomic_load(&j->filled));
  }
}

static void *fill_worker(void *arg) {
  fill_items(arg, NULL);
  return NULL;
}

int lj_weights_random(const lj_model_config *c, uint64_t seed, int n_threads, lj_weights *out) {
  LJ_TRY(lj_config_validate(c, c->name));
  LJ_TRY(begin_weights(c, out));
  out->random = 1;
  out->seed = seed;
  struct lj_weight_storage *s = out->storage;
  int64_t total = 0;
  for (int i = 0; i < s->n_slots; i++) total += s->slots[i].rows * (s->slots[i].cols ? s->slots[i].cols : 1);
  uint64_t avail = lj_mem_available();
  if (avail && (uint64_t)total * 2 > avail) {
    lj_weights_free(out);
    return LJ_FAIL(LJ_ENOMEM, "%s: random bf16 weights need %.1f GB of memory; %.1f GB are available", c->name,
                   (double)total * 2 / 1e9, (double)avail / 1e9);
  }
  s->random_bytes = (size_t)total * sizeof *s->random;
  s->random = alloc_big(s->random_bytes);
  uint16_t **dst = calloc((size_t)s->n_slots, sizeof *dst);
  int64_t *first_item = calloc((size_t)s->n_slots + 1, sizeof *first_item);
  if (!s->random || !dst || !first_item) {
    free(dst);
    free(first_item);
    lj_weights_free(out);
    return LJ_FAIL(LJ_ENOMEM, "%s: cannot allocate %.2f GB for random bf16 weights", c->name, (double)total * 2 / 1e9);
  }
  fill_job job = {.slots = s->slots, .dst = dst, .chunk = 1 << 20, .first_item = first_item, .n_slots = s->n_slots,
                  .seed = seed};
  atomic_init(&job.next, 0);
  atomic_init(&job.filled, 0);
  int64_t offset = 0;
  for (int i = 0; i < s->n_slots; i++) {
    lj_weight_slot *slot = &s->slots[i];
    int64_t numel = slot->rows * (slot->cols ? slot->cols : 1);
    dst[i] = s->random + offset;
    offset += numel;
    first_item[i + 1] = first_item[i] + (numel + job.chunk - 1) / job.chunk;
    *slot->t = (lj_tensor){dst[i], LJ_DTYPE_BF16, slot->cols ? 2 : 1, {slot->rows, slot->cols}, slot->name, NULL};
  }
  if (c->tie_embeddings) out->lm_head = out->embed;
  // Workers pull items; the calling thread is one of them.
  if (n_threads < 1) n_threads = 1;
  pthread_t *threads = calloc((size_t)n_threads, sizeof *threads);
  int started = 0;
  for (int t = 1; threads && t < n_threads; t++)
    if (pthread_create(&threads[started], NULL, fill_worker, &job) == 0) started++;
  lj_progress progress;
  lj_progress_begin(&progress, "random weights", total);
  fill_items(&job, &progress);
  for (int t = 0; t < started; t++) pthread_join(threads[t], NULL);
  lj_progress_update(&progress, total);  // the last items may have been another thread's
  lj_progress_end(&progress);
  free(threads);
  free(dst);
  free(first_item);
  return LJ_OK;
}

size_t lj_weights_nbytes(const lj_weights *w) {
  size_t n = 0;
  if (!w->storage) return 0;
  for (int i = 0; i < w->storage->n_slots; i++) n += lj_tensor_nbytes(w->storage->slots[i].t);
  return n;
}

void lj_weights_free(lj_weights *w) {
  if (w->storage) {
    lj_st_set_close(&w->storage->set);
    for (int i = 0; i < w->storage->n_owned; i++) free(w->storage->owned[i]);
    free(w->storage->owned);
    if (w->storage->random) munmap(w->storage->random, w->storage->random_bytes);
    free(w->storage->slots);
    free(w->storage);
  }
  free(w->layers);
  memset(w, 0, sizeof *w);
}
