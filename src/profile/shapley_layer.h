// The Shapley split of a decoder layer by its own game (docs/attribution.md §2d): v(S) is the
// energy per layer call of the stages in S replayed back to back in the run's order, cycling all
// layers, as every whole-layer, leave-one-out, prefix and order window of the rounds is. In such a
// window the last stage of a call runs into the first of the next (the wrap), so a window of m
// stages has m junctions per call, and one cost per junction is a cost per stage.
//
// Assumption (what the measured rounds of bench/results/2026-12-06-h100-attribution-1b*/ support,
// junctions.txt there): v(S) = sum_{i in S} a_i + J x (junctions of S's cycle where a heavy stage
// runs straight into a heavy one). a_i carries stage i's own junction; J is what two heavy stages
// in a row add (a GEMM into a GEMM: no light stage between them). Fitted by least squares to every
// window of a round, round by round; phi is the Shapley value of the fitted game, exact over all
// 2^n coalitions (a_i plus stage i's share of J). Isolation is not a value of this game: a stage
// alone at duty < 1 runs into itself and into idle gaps (its own method, §2).
//
// The check: every window predicted by the fit to the other windows (the deleted residual
// e_j / (1 - h_jj), paired by round) against +-5% of the whole layer. A raw residual would be
// lenient: a window pulls the fit towards itself by its leverage h_jj, so a window 8% off with
// h_jj = 0.5 would read 4%. Window 0 must be the whole layer: its deleted residual is the sum of the
// values split from the other windows alone minus v(N), an additive check the split can fail. A
// term the model lacks (a pairwise or three-stage interaction, a junction of another kind) moves
// windows the fit cannot follow, so it shows; a game of the assumed form fits every window exactly.
// A window the others cannot predict (h_jj = 1) is not judged, and no PASS is given without all.
#pragma once
#include "common/stats.h"
#include "common/verdict.h"
#include "store/profile_result.h"

#define LJ_SHAPLEY_LAYER_MAX_WINDOWS 32
#define LJ_SHAPLEY_LAYER_MAX_ROUNDS 128

// One window: the stages it replays, as indices 0 .. n_stages - 1 of the run's order, in its own
// (cyclic) order.
typedef struct {
  int n;
  int stage[LJ_LAYER_STAGES_TP];
} lj_layer_window;

typedef struct {
  int n_stages, n_windows, n_rounds;  // rounds: those with every window
  int has_junction;                   // 0: no window tells J from the a_i (J left out)
  lj_interval phi[LJ_LAYER_STAGES_TP];  // the fitted game's Shapley values, run order; their intervals
                                        // hold the rounds' spread and the fit's misfit (misfit_s)
  double misfit_s;                      // the residual standard deviation of the mean windows (J per
                                        // call; NAN: no window to spare)
  lj_interval junction;                 // J per heavy->heavy junction (estimate NAN: left out)
  int n_judged;                         // windows the others predict (h_jj < 1)
  lj_interval resid[LJ_SHAPLEY_LAYER_MAX_WINDOWS];  // deleted residual (model - measured) / (1 - h_jj); NAN: not judged
  lj_mean_ci full;                      // window 0 over the rounds
  int worst;                            // the window whose residual interval reaches farthest
  double worst_pct, worst_lo_pct, worst_hi_pct;   // its residual, % of full
  double layer_pct, layer_lo_pct, layer_hi_pct;   // window 0's: sum phi (others' fit) - v(N), % of full
  lj_verdict verdict;  // MISS: a window's whole interval outside +-5%; PASS: every one inside
} lj_shapley_layer_fit;

// n stages (heavy[i]: 1 for a GEMM), windows w[0 .. n_windows) (w[0] the whole layer), y the
// windows' per-call values by round (row j = window j, `rounds` columns, NAN: missing). Rounds
// missing a window are left out. phi_rounds (n x LJ_SHAPLEY_LAYER_MAX_ROUNDS, may be NULL): each
// used round's phi, for sums of stages paired by round. LJ_EINVAL (naming the cause) for fewer
// than 2 complete rounds, fewer windows than stage costs, or a stage no window tells apart.
int lj_shapley_layer_fit_rounds(int n, const int *heavy, const lj_layer_window *w, int n_windows, const double *y,
                                int rounds, double level, lj_shapley_layer_fit *out, double *phi_rounds);

// Heavy->heavy junctions of a window's cycle (a one-stage window runs into itself).
int lj_layer_window_heavy_junctions(const lj_layer_window *w, const int *heavy);
