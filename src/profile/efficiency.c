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
  // A stage cannot spend zero or negative joules on its work: such an estimate is noise (a small
  // difference of windows), and its J/FLOP would read as a number.
  if (!(e->mean > 0))
    out->j_per_flop = out->j_per_flop_lo = out->j_per_flop_hi = out->j_per_byte = out->j_per_byte_lo =
        out->j_per_byte_hi = out->flops_per_j = out->bytes_per_j = NAN;
}
