// Our decode points beside the published ones (study_analysis.h, mlenergy_reference.h).
#define _GNU_SOURCE  // strcasestr
#include <math.h>
#include <string.h>

#include "report/mlenergy_reference.h"
#include "report/study_analysis.h"

size_t lj_study_reference_matches(const lj_study_analysis *a, lj_study_reference_match *out, size_t max) {
  size_t n = 0;
  for (size_t r = 0; r < lj_mlenergy_n_points; r++) {
    const lj_reference_point *ref = &lj_mlenergy_points[r];
    for (size_t i = 0; i < a->n_lines; i++) {
      const lj_study_line *l = &a->lines[i];
      // ML.ENERGY ran bf16 weights: FP8 lines have no reference
      if (!strcasestr(l->model, ref->model) || !strstr(l->gpu, ref->gpu) || strcmp(l->weights, "bf16")) continue;
      for (size_t k = 0; k < l->n; k++) {
        const lj_study_line_point *p = &l->pt[k];
        if (p->batch != ref->batch || !isfinite(p->gross_j_per_token) || n >= max) continue;
        lj_study_reference_match *m = &out[n++];
        m->line = l, m->ours = p;
        m->theirs_j_per_token = ref->j_per_token, m->tolerance = ref->tolerance;
        m->diff_pct = (p->gross_j_per_token - ref->j_per_token) / ref->j_per_token * 100;
        m->at_or_below = p->gross_j_per_token <= ref->j_per_token;
      }
    }
  }
  return n;
}
