// cuBLASLt GEMM with a per-shape plan cache.
// Row-major y(n, out) = x(n, in) W(out, in)^T is, in cuBLAS's column-major
// terms, Y^T(out, n) = op_T(W as (in, out)) @ X^T(in, n): A = W (T), B = x (N).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_scale.h"
#include "engine/cuda/gemm_lt.h"

#define LJ_GEMM_MAX_PLANS 64

typedef struct {
  int n, in, out, y_fp32, fp8;
  int scalar_only;  // FP8: built while lj_gemm_lt_set_fp8_scalar_only was on (part of the plan's key)
  int outer;  // FP8: 1 = outer-vector scales in cuBLASLt's epilogue; 0 = unscaled GEMM + scale kernel
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct lj_gemm_lt {
  cublasLtHandle_t handle;
  void *workspace;
  size_t workspace_bytes;
  gemm_plan plans[LJ_GEMM_MAX_PLANS];
  int n_plans;
  int warned_fp8;
  int fp8_scalar_only;  // lj_gemm_lt_set_fp8_scalar_only: FP8 plans skip the outer-vector try
};

// Frees a plan's descriptors (any may be NULL) and clears them.
static void destroy_plan(gemm_plan *p) {
  if (p->a) cublasLtMatrixLayoutDestroy(p->a);
  if (p->b) cublasLtMatrixLayoutDestroy(p->b);
  if (p->c) cublasLtMatrixLayoutDestroy(p->c);
  if (p->desc) cublasLtMatmulDescDestroy(p->desc);
  p->a = p->b = p->c = NULL;
  p->desc = NULL;
}

int lj_gemm_lt_create(lj_gemm_lt **out, size_t workspace_bytes) {
  lj_gemm_lt *g = (lj_gemm_lt *)calloc(1, sizeof *g);
  if (!g) return LJ_FAIL(LJ_ENOMEM, "gemm: out of host memory");
  *out = g;
  CUBLAS_CHECK(cublasLtCreate(&g->handle));
  g->workspace_bytes = workspace_bytes;
  CUDA_CHECK(cudaMalloc(&g->workspace, workspace_bytes));
  return 0;
}

void lj_gemm_lt_free(lj_gemm_lt *g) {
  if (!g) return;
  for (int i = 0; i < g->n_plans; i++) destroy_plan(&g->plans[i]);
  if (g->workspace) cudaFree(g->workspace);
  if (g->handle) cublasLtDestroy(g->handle);
  free(g);
}

static int build_plan(lj_gemm_lt *g, gemm_plan *p) {
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cudaDataType_t ct = p->y_fp32 ? CUDA_R_32F : CUDA_R_16BF;
  cudaDataType_t ab = p->fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (p->fp8) {
    // Outer-vector scaling: D[o, t] = scale_a[o] * scale_b[t] * sum_i A[i, o] B[i, t], i.e. the
    // weights' per-output-row scales and the activations' per-token scales (the pointers are
    // set per call). Full fp32 accumulation (no fast accumulation). Without an algorithm for
    // it, scalar mode (scales 1) and a kernel applying both vectors after the GEMM.
    cublasLtMatmulMatrixScale_t mode =
        p->outer ? CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F : CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
    int8_t fast = 0;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
  }
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, ab, p->in, p->out, p->in));  // W^T view
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, ab, p->in, p->n, p->in));    // X^T
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, ct, p->out, p->n, p->out));           // Y^T
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &g->workspace_bytes, sizeof g->workspace_bytes);
  cublasLtMatmulHeuristicResult_t res;
  int n_res = 0;
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic(g->handle, p->desc, p->a, p->b, p->c, p->c, pref, 1, &res, &n_res);
  cublasLtMatmulPreferenceDestroy(pref);
  CUBLAS_CHECK(st);
  if (n_res == 0)
    return LJ_FAIL(LJ_ECUDA, "cuBLASLt has no algorithm for %s GEMM: %d tokens, %d in, %d out features",
                   p->fp8 ? "FP8 (E4M3, outer-vector scales)" : "bf16", p->n, p->in, p->out);
  p->algo = res.algo;
  return 0;
}

// The cached plan of a shape, built on first use.
static int find_plan(lj_gemm_lt *g, int n, int in, int out, int y_fp32, int fp8, gemm_plan **out_p) {
  gemm_plan *p = NULL;
  for (int i = 0; i < g->n_plans; i++) {
    gemm_plan *q = &g->plans[i];
    if (q->n == n && q->in == in && q->out == out && q->y_fp32 == y_fp32 && q->fp8 == fp8 &&
        q->scalar_only == (fp8 && g->fp8_scalar_only)) {
      p = q;
      break;
    }
  }
  if (!p) {
    if (g->n_plans == LJ_GEMM_MAX_PLANS) {  // evict the oldest; shapes rarely exceed this
      destroy_plan(&g->plans[0]);
      memmove(&g->plans[0], &g->plans[1], sizeof(gemm_plan) * (LJ_GEMM_MAX_PLANS - 1));
      g->n_plans--;
    }
    p = &g->plans[g->n_plans];
    memset(p, 0, sizeof *p);
    p->n = n, p->in = in, p->out = out, p->y_fp32 = y_fp32, p->fp8 = fp8;
    p->scalar_only = fp8 && g->fp8_scalar_only;
    p->outer = fp8 && !p->scalar_only;
    int rc = p->outer || !fp8 ? build_plan(g, p) : -1;
    if (rc < 0 && fp8) {  // no outer-vector algorithm for this shape: scalar mode + the scale kernel
      destroy_plan(p);
      p->outer = 0;
      lj_clear_error();
      rc = build_plan(g, p);
      if (rc == 0 && !g->warned_fp8 && !p->scalar_only)
        fprintf(stderr, "llamajoule: cuBLASLt has no FP8 algorithm with outer-vector scales for %d x %d x %d; "
                        "scaling after the GEMM instead\n", n, in, out);
      g->warned_fp8 |= rc == 0 && !p->scalar_only;
    }
    if (rc < 0) {
      destroy_plan(p);
      return rc;
    }
    g->n_plans++;
  }
  *out_p = p;
  return 0;
}

void lj_gemm_lt_set_fp8_scalar_only(lj_gemm_lt *g, int on) { g->fp8_scalar_only = on != 0; }

int lj_gemm_lt_fp8_outer(const lj_gemm_lt *g, int n, int in, int out) {
  for (int i = g->n_plans - 1; i >= 0; i--) {
    const gemm_plan *q = &g->plans[i];
    if (q->fp8 && q->n == n && q->in == in && q->out == out && q->scalar_only == g->fp8_scalar_only) return q->outer;
  }
  return -1;
}

int lj_gemm_lt_run(lj_gemm_lt *g, void *y, int y_fp32, const __nv_bfloat16 *x,
                   const __nv_bfloat16 *w, int n, int in, int out, cudaStream_t stream) {
  if (n <= 0) return 0;
  gemm_plan *p;
  LJ_TRY(find_plan(g, n, in, out, y_fp32, 0, &p));
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(g->handle, p->desc, &alpha, w, p->a, x, p->b, &beta, y, p->c, y, p->c,
                              &p->algo, g->workspace, g->workspace_bytes, stream));
  return 0;
}

// The FP8 plan of a shape under the current setting, built on first use.
static int find_fp8_plan(lj_gemm_lt *g, int n, int in, int out, gemm_plan **p) {
  return find_plan(g, n, in, out, 0, 1, p);
}

int lj_gemm_lt_fp8_plan(lj_gemm_lt *g, int n, int in, int out) {
  gemm_plan *p;
  LJ_TRY(find_fp8_plan(g, n, in, out, &p));
  return p->outer;
}

static int run_fp8_plan(lj_gemm_lt *g, const gemm_plan *p, __nv_bfloat16 *y, const uint8_t *xq,
                        const uint8_t *wq, cudaStream_t stream) {
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(g->handle, p->desc, &alpha, wq, p->a, xq, p->b, &beta, y, p->c, y, p->c, &p->algo,
                              g->workspace, g->workspace_bytes, stream));
  return 0;
}

int lj_gemm_lt_run_fp8(lj_gemm_lt *g, __nv_bfloat16 *y, const uint8_t *xq, const float *x_scale, const uint8_t *wq,
                       const float *w_scale, int n, int in, int out, cudaStream_t stream) {
  if (n <= 0) return 0;
  gemm_plan *p;
  LJ_TRY(find_fp8_plan(g, n, in, out, &p));
  if (p->outer) {
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scale,
                                                sizeof w_scale));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scale,
                                                sizeof x_scale));
  }
  LJ_TRY(run_fp8_plan(g, p, y, xq, wq, stream));
  return p->outer ? 0 : lj_cuda_fp8_scale_outer(y, x_scale, w_scale, n, out, stream);
}

int lj_gemm_lt_run_fp8_sums(lj_gemm_lt *g, __nv_bfloat16 *y, const uint8_t *xq, const uint8_t *wq, int n, int in,
                            int out, cudaStream_t stream) {
  if (n <= 0) return 0;
  gemm_plan *p;
  LJ_TRY(find_fp8_plan(g, n, in, out, &p));
  if (p->outer)
    return LJ_FAIL(LJ_EUNSUPPORTED, "FP8 GEMM %d x %d x %d scales in cuBLASLt's epilogue: it has no unscaled sums",
                   n, in, out);
  return run_fp8_plan(g, p, y, xq, wq, stream);
}
