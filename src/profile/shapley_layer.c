// The layer's own game fitted to the rounds' windows, and its exact Shapley values
// (shapley_layer.h states the model and what its check tests).
#include "profile/shapley_layer.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/shapley.h"

enum { MAXP = LJ_LAYER_STAGES_TP + 1, MAXW = LJ_SHAPLEY_LAYER_MAX_WINDOWS, MAXR = LJ_SHAPLEY_LAYER_MAX_ROUNDS };

int lj_layer_window_heavy_junctions(const lj_layer_window *w, const int *heavy) {
  int n = 0;
  for (int k = 0; k < w->n; k++) n += heavy[w->stage[k]] && heavy[w->stage[(k + 1) % w->n]];
  return n;
}

// Each stage's Shapley share of the game "heavy->heavy junctions of S in the run's order", over
// all 2^n coalitions: phi_i = sum_S |S|! (n - |S| - 1)! / n! (g(S + i) - g(S)).
static void junction_shares(int n, const int *heavy, double *share) {
  double fact[LJ_LAYER_STAGES_TP + 1];
  fact[0] = 1;
  for (int k = 1; k <= n; k++) fact[k] = fact[k - 1] * k;
  for (int i = 0; i < n; i++) share[i] = 0;
  for (unsigned mask = 0; mask < (1u << n); mask++) {
    lj_layer_window w = {0, {0}};
    for (int k = 0; k < n; k++)
      if (mask >> k & 1u) w.stage[w.n++] = k;
    int g = w.n ? lj_layer_window_heavy_junctions(&w, heavy) : 0;
    for (int i = 0; i < n; i++) {
      if (!(mask >> i & 1u)) continue;  // mask = S + i: its marginal over S = mask - i
      lj_layer_window s = {0, {0}};
      for (int k = 0; k < n; k++)
        if (k != i && (mask >> k & 1u)) s.stage[s.n++] = k;
      int gs = s.n ? lj_layer_window_heavy_junctions(&s, heavy) : 0;
      share[i] += fact[s.n] * fact[n - s.n - 1] / fact[n] * (g - gs);
    }
  }
}

// inv = (X^T X)^-1 by Gauss-Jordan with partial pivoting; 0 when singular (relative to its diagonal).
static int invert(double a[MAXP][MAXP], int p, double inv[MAXP][MAXP]) {
  double scale = 0;
  for (int i = 0; i < p; i++) scale = fmax(scale, fabs(a[i][i]));
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) inv[i][j] = i == j;
  for (int c = 0; c < p; c++) {
    int piv = c;
    for (int i = c + 1; i < p; i++)
      if (fabs(a[i][c]) > fabs(a[piv][c])) piv = i;
    if (!(fabs(a[piv][c]) > 1e-9 * scale)) return 0;
    for (int j = 0; j < p; j++) {
      double t = a[c][j];
      a[c][j] = a[piv][j], a[piv][j] = t;
      t = inv[c][j];
      inv[c][j] = inv[piv][j], inv[piv][j] = t;
    }
    double d = a[c][c];
    for (int j = 0; j < p; j++) a[c][j] /= d, inv[c][j] /= d;
    for (int i = 0; i < p; i++) {
      if (i == c || a[i][c] == 0) continue;
      double f = a[i][c];
      for (int j = 0; j < p; j++) a[i][j] -= f * a[c][j], inv[i][j] -= f * inv[c][j];
    }
  }
  return 1;
}

// The hat rows: beta = h x y for the design x (nw x p); 0 when x^T x is singular.
static int hat(double x[MAXW][MAXP], int nw, int p, double h[MAXP][MAXW]) {
  double a[MAXP][MAXP], inv[MAXP][MAXP];
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) {
      a[i][j] = 0;
      for (int k = 0; k < nw; k++) a[i][j] += x[k][i] * x[k][j];
    }
  if (!invert(a, p, inv)) return 0;
  for (int i = 0; i < p; i++)
    for (int k = 0; k < nw; k++) {
      h[i][k] = 0;
      for (int j = 0; j < p; j++) h[i][k] += inv[i][j] * x[k][j];
    }
  return 1;
}

static int interval_over_rounds(const double *v, int k, double level, lj_interval *out) {
  lj_mean_ci m;
  LJ_TRY(lj_stats_mean_ci(v, (size_t)k, level, &m));
  lj_interval_from_se(m.mean, m.sem, m.df, level, out);
  return 0;
}

// The rounds' spread sees only what varies from round to round; a misfit the model cannot follow is
// the same in every round. Its share of phi_i = c^T beta (c: stage i and its share of J) is the
// regression's s^2 c^T (X^T X)^-1 c = s^2 |h^T c|^2 ((X^T X)^-1 = h h^T). s^2 is the misfit alone:
// the mean residuals' sum of squares also holds the rounds' noise, tr((I - H) Sigma) / rounds, which
// the rounds' spread already counts; it is estimated by the residuals' variances over the rounds and
// taken off (else an exact model's intervals come out ~1.4x too wide), then / (windows - terms).
static void misfit_of(double h[MAXP][MAXW], int nw, int p, int n, const double *share, double raw[MAXW][MAXR],
                      int rounds, lj_shapley_layer_fit *out) {
  int spare = nw - p;
  double rss = 0, noise = 0;
  for (int j = 0; j < nw; j++) {
    lj_mean_ci m;
    if (lj_stats_mean_ci(raw[j], (size_t)rounds, 0.95, &m) < 0) continue;  // rounds >= 2: never
    rss += m.mean * m.mean, noise += m.sem * m.sem;
  }
  out->misfit_df = spare;
  out->misfit_s2 = spare > 0 ? fmax(0, rss - noise) / spare : 0;
  out->misfit_s = spare > 0 ? sqrt(out->misfit_s2) : NAN;
  for (int i = 0; i < n; i++)
    for (int w = 0; w < nw; w++) out->phi_row[i][w] = h[i][w] + (p > n ? share[i] * h[n][w] : 0);
}

void lj_shapley_layer_widen(const lj_shapley_layer_fit *f, const int *members, int m, lj_interval *e) {
  if (!(f->misfit_s2 > 0) || f->misfit_df < 1) return;
  double q = 0;
  for (int w = 0; w < f->n_windows; w++) {
    double c = 0;
    for (int k = 0; k < m; k++) c += f->phi_row[members[k]][w];
    q += c * c;
  }
  double v1 = e->se * e->se, v2 = f->misfit_s2 * q, df1 = e->df;
  double denom = (v1 > 0 && isfinite(df1) ? v1 * v1 / df1 : 0) + v2 * v2 / f->misfit_df;
  lj_interval_from_se(e->estimate, sqrt(v1 + v2), denom > 0 ? (v1 + v2) * (v1 + v2) / denom : INFINITY, e->level,
                      e);
}

int lj_shapley_layer_fit_rounds(int n, const int *heavy, const lj_layer_window *w, int n_windows, const double *y,
                                int rounds, double level, lj_shapley_layer_fit *out, double *phi_rounds) {
  if (n < 1 || n > LJ_LAYER_STAGES_TP || n_windows < 1 || n_windows > MAXW || rounds < 1)
    return LJ_FAIL(LJ_EINVAL, "Shapley split of the layer: %d stages and %d windows, expected 1 .. %d and 1 .. %d",
                   n, n_windows, LJ_LAYER_STAGES_TP, MAXW);
  if (w[0].n != n) return LJ_FAIL(LJ_EINVAL, "Shapley split of the layer: window 0 holds %d stages, not the whole layer's %d", w[0].n, n);
  for (int j = 0; j < n_windows; j++)
    for (int k = 0; k < w[j].n; k++)
      if (w[j].stage[k] < 0 || w[j].stage[k] >= n)
        return LJ_FAIL(LJ_EINVAL, "Shapley split of the layer: window %d lists stage %d of %d", j, w[j].stage[k], n);
  // the design: one column per stage, then the heavy->heavy junctions
  double x[MAXW][MAXP], h[MAXP][MAXW];
  for (int j = 0; j < n_windows; j++) {
    for (int i = 0; i <= n; i++) x[j][i] = 0;
    for (int k = 0; k < w[j].n; k++) x[j][w[j].stage[k]] = 1;
    x[j][n] = lj_layer_window_heavy_junctions(&w[j], heavy);
  }
  int p = n + 1;
  if (n_windows < p || !hat(x, n_windows, p, h)) p = n;  // J not told apart from the a_i: left out
  if (n_windows < p || !hat(x, n_windows, p, h))
    return LJ_FAIL(LJ_EINVAL, "Shapley split of the layer: %d windows do not tell the %d stages' costs apart", n_windows, n);
  // the complete rounds
  int used[MAXR], k = 0;
  for (int r = 0; r < rounds && k < MAXR; r++) {
    int ok = 1;
    for (int j = 0; ok && j < n_windows; j++) ok = isfinite(y[(size_t)j * rounds + r]);
    if (ok) used[k++] = r;
  }
  if (k < 2) return LJ_FAIL(LJ_EINVAL, "Shapley split of the layer: %d complete rounds (every window), need 2", k);
  memset(out, 0, sizeof *out);
  out->n_stages = n, out->n_windows = n_windows, out->n_rounds = k, out->has_junction = p > n;
  // Each window's leverage h_jj = x_j (X^T X)^-1 x_j^T: how much of it the fit takes from the window
  // itself. A window the others cannot predict (h_jj = 1) is not judged.
  double lev[MAXW];
  for (int j = 0; j < n_windows; j++) {
    lev[j] = 0;
    for (int i = 0; i < p; i++) lev[j] += x[j][i] * h[i][j];
    if (!(1 - lev[j] > 1e-9)) lev[j] = NAN;
    else out->n_judged++;
  }
  double share[LJ_LAYER_STAGES_TP];
  junction_shares(n, heavy, share);
  double phi[LJ_LAYER_STAGES_TP][MAXR], jr[MAXR], res[MAXW][MAXR], full[MAXR], raw[MAXW][MAXR];
  for (int q = 0; q < k; q++) {
    int r = used[q];
    double beta[MAXP];
    for (int i = 0; i < p; i++) {
      beta[i] = 0;
      for (int j = 0; j < n_windows; j++) beta[i] += h[i][j] * y[(size_t)j * rounds + r];
    }
    double J = p > n ? beta[n] : 0;
    for (int i = 0; i < n; i++) phi[i][q] = beta[i] + share[i] * J;
    jr[q] = J;
    for (int j = 0; j < n_windows; j++) {
      double model = 0;
      for (int i = 0; i < p; i++) model += x[j][i] * beta[i];
      raw[j][q] = model - y[(size_t)j * rounds + r];
      res[j][q] = raw[j][q] / (1 - lev[j]);  // NAN where not judged
    }
    full[q] = y[r];
  }
  LJ_TRY(lj_stats_mean_ci(full, (size_t)k, level, &out->full));
  for (int i = 0; i < n; i++) {
    LJ_TRY(interval_over_rounds(phi[i], k, level, &out->phi[i]));
    if (phi_rounds)
      for (int q = 0; q < k; q++) phi_rounds[(size_t)i * MAXR + q] = phi[i][q];
  }
  misfit_of(h, n_windows, p, n, share, raw, k, out);
  for (int i = 0; i < n; i++) lj_shapley_layer_widen(out, &i, 1, &out->phi[i]);
  if (p > n) LJ_TRY(interval_over_rounds(jr, k, level, &out->junction));
  else lj_interval_from_se(NAN, NAN, NAN, level, &out->junction);
  // the check: every window against +-5% of the whole layer
  double f = out->full.mean, reach = -1;
  int miss = 0, all_pass = f > 0;
  out->worst = 0;
  for (int j = 0; j < n_windows; j++) {
    if (isnan(lev[j])) {
      lj_interval_from_se(NAN, NAN, NAN, level, &out->resid[j]);
      all_pass = 0;
      continue;
    }
    LJ_TRY(interval_over_rounds(res[j], k, level, &out->resid[j]));
    const lj_interval *e = &out->resid[j];
    double pct = e->estimate / f * 100, lo = e->lo / f * 100, hi = e->hi / f * 100;
    lj_verdict v = lj_interval_verdict(pct, lo, hi, LJ_SHAPLEY_TARGET_PCT);
    miss |= v == LJ_VERDICT_MISS;
    all_pass &= v == LJ_VERDICT_PASS;
    double far = fmax(fabs(lo), fabs(hi));
    if (!(far <= reach)) reach = far, out->worst = j, out->worst_pct = pct, out->worst_lo_pct = lo, out->worst_hi_pct = hi;
    if (j == 0) out->layer_pct = pct, out->layer_lo_pct = lo, out->layer_hi_pct = hi;
  }
  if (reach < 0) out->worst_pct = out->worst_lo_pct = out->worst_hi_pct = NAN;
  if (isnan(lev[0])) out->layer_pct = out->layer_lo_pct = out->layer_hi_pct = NAN;
  out->verdict = miss ? LJ_VERDICT_MISS : all_pass ? LJ_VERDICT_PASS : LJ_VERDICT_INCONCLUSIVE;
  return 0;
}
