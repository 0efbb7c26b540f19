#include "engine/cpu/cpu_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/fp8_quant.h"

int lj_cpu_embed(const lj_tensor *embed, const int32_t *ids, int n, float *out) {
  int64_t vocab = embed->shape[0], dim = embed->shape[1];
  for (int t = 0; t < n; t++) {
    if (ids[t] < 0 || ids[t] >= vocab)
      return LJ_FAIL(LJ_EINVAL, "token id %d (position %d of the input) is outside the vocabulary [0, %lld)",
                     (int)ids[t], t, (long long)vocab);
    size_t base = (size_t)ids[t] * (size_t)dim;
    for (int64_t i = 0; i < dim; i++) out[(size_t)t * (size_t)dim + (size_t)i] = lj_load_f32(embed->data, embed->dtype, base + (size_t)i);
  }
  return LJ_OK;
}

void lj_cpu_rmsnorm(const float *x, const lj_tensor *weight, float eps, int n, int dim, float *out) {
  for (int t = 0; t < n; t++) {
    const float *xr = x + (size_t)t * (size_t)dim;
    float *o = out + (size_t)t * (size_t)dim;
    double ss = 0.0;  // the mean of squares in double: the row sum is the only long reduction
    for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
    float inv = 1.0f / sqrtf((float)(ss / dim) + eps);
    for (int i = 0; i < dim; i++) o[i] = (xr[i] * inv) * lj_load_f32(weight->data, weight->dtype, (size_t)i);
  }
}

// ---- matmul
// Dot products with 8 independent partial sums (vectorisable without -ffast-math).
static float dot_f32(const float *a, const float *b, int n) {
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
  float tail = 0.0f;
  for (; i < n; i++) tail += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

static float dot_bf16(const float *a, const uint16_t *b, int n) {
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[i + j] * lj_bf16_to_f32(b[i + j]);
  float tail = 0.0f;
  for (; i < n; i++) tail += a[i] * lj_bf16_to_f32(b[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

static float dot_f16(const float *a, const uint16_t *b, int n) {
  float acc = 0.0f;
  for (int i = 0; i < n; i++) acc += a[i] * lj_f16_to_f32(b[i]);
  return acc;
}

// FP8 weights: each weight dequantised exactly as code * row scale (one fp32 rounding), then
// the fp32 dot product in dot_f32's order.
static float dot_fp8(const float *a, const uint8_t *q, float scale, int n) {
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[i + j] * (lj_e4m3_to_f32(q[i + j]) * scale);
  float tail = 0.0f;
  for (; i < n; i++) tail += a[i] * (lj_e4m3_to_f32(q[i]) * scale);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

void lj_cpu_fp8_quantize_act(const float *x, int n, int in, float *out) {
  for (int t = 0; t < n; t++) {
    const float *xr = x + (size_t)t * (size_t)in;
    float *o = out + (size_t)t * (size_t)in, amax = 0.0f;
    for (int i = 0; i < in; i++) o[i] = lj_round_bf16(xr[i]);  // what the GPU quantises: bf16 rows
    for (int i = 0; i < in; i++) amax = fmaxf(amax, fabsf(o[i]));
    float s = lj_fp8_row_scale(amax);
    for (int i = 0; i < in; i++) o[i] = lj_e4m3_to_f32(lj_fp8_quantize(o[i], s)) * s;
  }
}

typedef struct {
  const float *x;
  const lj_tensor *w;
  int n, in, out;
  float *y;
} matmul_job;

// Tokens at which widening a weight row once and reusing it beats widening per dot.
enum { MATMUL_WIDEN_ROWS_FROM = 4 };

static void matmul_rows(void *ctx, int begin, int end) {
  const matmul_job *j = ctx;
  const size_t in = (size_t)j->in;
  float *row = NULL;
  int fp8 = j->w->dtype == LJ_DTYPE_F8_E4M3;
  if (j->w->dtype != LJ_DTYPE_F32 && !fp8 && j->n >= MATMUL_WIDEN_ROWS_FROM) row = malloc(in * sizeof *row);
  for (int o = begin; o < end; o++) {
    const float *wf = NULL;
    const uint16_t *wh = NULL;
    if (j->w->dtype == LJ_DTYPE_F32) {
      wf = (const float *)j->w->data + (size_t)o * in;
    } else if (fp8) {
      const uint8_t *q = (const uint8_t *)j->w->data + (size_t)o * in;
      for (int t = 0; t < j->n; t++)
        j->y[(size_t)t * (size_t)j->out + (size_t)o] = dot_fp8(j->x + (size_t)t * in, q, j->w->scale[o], j->in);
      continue;
    } else {
      wh = (const uint16_t *)j->w->data + (size_t)o * in;
      if (row) {
        for (size_t i = 0; i < in; i++) row[i] = lj_load_f32(wh, j->w->dtype, i);
        wf = row;
      }
    }
    for (int t = 0; t < j->n; t++) {
      const float *xt = j->x + (size_t)t * in;
      float v = wf ? dot_f32(xt, wf, j->in)
                   : j->w->dtype == LJ_DTYPE_BF16 ? dot_bf16(xt, wh, j->in) : dot_f16(xt, wh, j->in);
      j->y[(size_t)t * (size_t)j->out + (size_t)o] = v;
    }
  }
  free(row);
}

void lj_cpu_matmul(const float *x, const lj_tensor *w, int n, float *y, lj_thread_pool *pool) {
  matmul_job j = {x, w, n, (int)w->shape[1], (int)w->shape[0], y};
  lj_parallel_for(pool, j.out, matmul_rows, &j);
}

// ---- RoPE
void lj_rope_inv_freq(const lj_model_config *c, float *inv_freq) {
  int half = c->head_dim / 2;
  for (int i = 0; i < half; i++) {
    // HF computes base ** (arange(0, dim, 2).float() / dim) in f32 and inverts.
    float expo = (float)(2 * i) / (float)c->head_dim;
    float f = (float)(1.0 / pow(c->rope_theta, (double)expo));
    if (c->rope_type == LJ_ROPE_LLAMA3) {
      double old_ctx = c->rope_original_max_pos;
      double low_wavelen = old_ctx / c->rope_low_freq_factor;
      double high_wavelen = old_ctx / c->rope_high_freq_factor;
      double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f = (float)(f / c->rope_factor);  // low frequencies: fully scaled
      } else if (wavelen >= high_wavelen) {  // medium band: smooth interpolation
        double smooth = (old_ctx / wavelen - c->rope_low_freq_factor) /
                        (c->rope_high_freq_factor - c->rope_low_freq_factor);
        f = (float)((1.0 - smooth) * f / c->rope_factor + smooth * f);
      }
    }
    inv_freq[i] = f;
  }
}

void lj_cpu_rope(float *x, const int32_t *pos, int n, int n_heads, int head_dim, const float *inv_freq) {
  int half = head_dim / 2;
  for (int t = 0; t < n; t++) {
    for (int i = 0; i < half; i++) {
      // HF: freqs = inv_freq (f32) * position (f32), then cos/sin in f32.
      float angle = inv_freq[i] * (float)pos[t];
      float c = cosf(angle), s = sinf(angle);
      for (int h = 0; h < n_heads; h++) {
        float *v = x + ((size_t)t * (size_t)n_heads + (size_t)h) * (size_t)head_dim;
        float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
    }
  }
}

// ---- attention
typedef struct {
  const float *q, *k, *v;
  const int32_t *pos;
  int n, n_heads, n_kv_heads, head_dim;
  float *out;
} attention_job;

// One (token, head) pair per work item. Two passes over the keys (max, then
// exp-weighted sum of values) so no score buffer is needed.
static void attention_items(void *ctx, int begin, int end) {
  const attention_job *j = ctx;
  const int hd = j->head_dim, group = j->n_heads / j->n_kv_heads;
  const size_t kv_stride = (size_t)j->n_kv_heads * (size_t)hd;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int item = begin; item < end; item++) {
    int t = item / j->n_heads, h = item % j->n_heads, kvh = h / group;
    const float *q = j->q + ((size_t)t * (size_t)j->n_heads + (size_t)h) * (size_t)hd;
    float *o = j->out + ((size_t)t * (size_t)j->n_heads + (size_t)h) * (size_t)hd;
    int len = j->pos[t] + 1;
    float max = -INFINITY;
    for (int p = 0; p < len; p++) {
      float s = dot_f32(q, j->k + (size_t)p * kv_stride + (size_t)kvh * (size_t)hd, hd) * scale;
      if (s > max) max = s;
    }
    memset(o, 0, (size_t)hd * sizeof *o);
    float sum = 0.0f;
    for (int p = 0; p < len; p++) {
      float s = dot_f32(q, j->k + (size_t)p * kv_stride + (size_t)kvh * (size_t)hd, hd) * scale;
      float e = expf(s - max);
      sum += e;
      const float *v = j->v + (size_t)p * kv_stride + (size_t)kvh * (size_t)hd;
      for (int d = 0; d < hd; d++) o[d] += e * v[d];
    }
    float inv = 1.0f / sum;
    for (int d = 0; d < hd; d++) o[d] *= inv;
  }
}

void lj_cpu_attention(const float *q, const float *k_cache, const float *v_cache, const int32_t *pos, int n,
                      int n_heads, int n_kv_heads, int head_dim, float *out, lj_thread_pool *pool) {
  attention_job j = {q, k_cache, v_cache, pos, n, n_heads, n_kv_heads, head_dim, out};
  lj_parallel_for(pool, n * n_heads, attention_items, &j);
}

// ---- elementwise
void lj_cpu_swiglu(const float *gate, const float *up, int64_t n, float *out) {
  for (int64_t i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

void lj_cpu_add(float *x, const float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

void lj_cpu_softmax(float *x, int n) {
  float max = -INFINITY;
  for (int i = 0; i < n; i++)
    if (x[i] > max) max = x[i];
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    x[i] = expf(x[i] - max);
    sum += x[i];
  }
  float inv = (float)(1.0 / sum);
  for (int i = 0; i < n; i++) x[i] *= inv;
}

int lj_cpu_argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best] || (x[best] != x[best] && x[i] == x[i])) best = i;
  return best;
}
