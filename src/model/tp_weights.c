// A tensor-parallel rank's layer weights from the sharding plan (model/tp_weights.h).
#include "model/tp_weights.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tp_shard.h"

// Rows [begin, end): a view. The data and the FP8 row scales start at row `begin`.
static lj_tensor rows_view(const lj_tensor *t, int64_t begin, int64_t end) {
  lj_tensor v = *t;
  size_t row_bytes = (size_t)t->shape[1] * lj_dtype_size(t->dtype);
  v.data = (const char *)t->data + (size_t)begin * row_bytes;
  if (t->scale) v.scale = t->scale + begin;
  v.shape[0] = end - begin;
  return v;
}

// Columns [begin, end): copied row by row into a buffer the rank owns. Every row stays, so
// the FP8 row scales are the full matrix's.
static int cols_copy(lj_tp_rank_weights *r, const lj_tensor *t, int64_t begin, int64_t end, lj_tensor *out) {
  size_t es = lj_dtype_size(t->dtype), width = (size_t)(end - begin) * es, row_bytes = (size_t)t->shape[1] * es;
  char *buf = malloc((size_t)t->shape[0] * width);
  void **owned = buf ? realloc(r->owned, (size_t)(r->n_owned + 1) * sizeof *owned) : NULL;
  if (!owned) {
    free(buf);
    return LJ_FAIL(LJ_ENOMEM, "tensor-parallel rank %d: cannot copy its columns of %s", r->rank, t->name);
  }
  r->owned = owned;
  r->owned[r->n_owned++] = buf;
  for (int64_t row = 0; row < t->shape[0]; row++)
    memcpy(buf + (size_t)row * width, (const char *)t->data + (size_t)row * row_bytes + (size_t)begin * es, width);
  *out = *t;
  out->data = buf;
  out->shape[1] = end - begin;
  return LJ_OK;
}

static int slice(lj_tp_rank_weights *r, const lj_model_config *c, lj_tp_weight which, const lj_tensor *t,
                 lj_tensor *out) {
  lj_tp_slice s = lj_tp_shard(c, r->degree, r->rank, which);
  int64_t whole = s.split == LJ_TP_COLS ? t->shape[1] : t->shape[0];
  if (s.split == LJ_TP_REPLICATED || (s.begin == 0 && s.end == whole)) {
    *out = *t;
    return LJ_OK;
  }
  if (s.split == LJ_TP_ROWS) {
    *out = rows_view(t, s.begin, s.end);
    return LJ_OK;
  }
  return cols_copy(r, t, s.begin, s.end, out);
}

int lj_tp_rank_weights_build(const lj_weights *w, int degree, int rank, lj_tp_rank_weights *out) {
  const lj_model_config *c = &w->config;
  memset(out, 0, sizeof *out);
  LJ_TRY(lj_tp_check(c, degree, c->name));
  if (rank < 0 || rank >= degree)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor-parallel rank %d outside [0, %d)", c->name, rank, degree);
  out->degree = degree;
  out->rank = rank;
  lj_tp_rank_config(c, degree, &out->config);
  out->layers = calloc((size_t)c->n_layers, sizeof *out->layers);
  if (!out->layers) return LJ_FAIL(LJ_ENOMEM, "tensor-parallel rank %d: out of memory", rank);
  for (int l = 0; l < c->n_layers; l++) {
    const lj_layer_weights *L = &w->layers[l];
    lj_layer_weights *R = &out->layers[l];
    struct { lj_tp_weight which; const lj_tensor *from; lj_tensor *to; } parts[] = {
        {LJ_TP_ATTN_NORM, &L->attn_norm, &R->attn_norm}, {LJ_TP_WQ, &L->wq, &R->wq},
        {LJ_TP_WK, &L->wk, &R->wk},                      {LJ_TP_WV, &L->wv, &R->wv},
        {LJ_TP_WO, &L->wo, &R->wo},                      {LJ_TP_FFN_NORM, &L->ffn_norm, &R->ffn_norm},
        {LJ_TP_W_GATE, &L->w_gate, &R->w_gate},          {LJ_TP_W_UP, &L->w_up, &R->w_up},
        {LJ_TP_W_DOWN, &L->w_down, &R->w_down},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
      int rc = slice(out, c, parts[i].which, parts[i].from, parts[i].to);
      if (rc < 0) {
        lj_tp_rank_weights_free(out);
        return rc;
      }
    }
  }
  return LJ_OK;
}

void lj_tp_rank_weights_free(lj_tp_rank_weights *r) {
  for (int i = 0; i < r->n_owned; i++) free(r->owned[i]);
  free(r->owned);
  free(r->layers);
  memset(r, 0, sizeof *r);
}
