// Energy per unit of analytic work: says whether a stage spends its joules on
// arithmetic or on moving bytes.
#include <math.h>

#include "profile/attribution.h"

static double per(double j, int64_t work) { return work > 0 ? j / (double)work : NAN; }

void lj_stage_efficiency_compute(const lj_mean_ci *e, const lj_stage_cost *c, lj_stage_efficiency *out) {
  out->j_per_flop = per(e->mean, c->flops);
  out->j_per_flop_lo = per(e->lo, c->flops);
  out->j_per_flop_hi = per(e->hi, c->flops);
  out->j_per_byte = per(e->mean, c->bytes);
  out->j_per_byte_lo = per(e->lo, c->bytes);
  out->j_per_byte_hi = per(e->hi, c->bytes);
  out->flops_per_j = c->flops > 0 && e->mean != 0 ? (double)c->flops / e->mean : NAN;
  out->bytes_per_j = c->bytes > 0 && e->mean != 0 ? (double)c->bytes / e->mean : NAN;
}
