// Tolerance checks shared by the cmocka tests: the failure names the expression, the value
// got, the value wanted and the tolerance. NEAR: |a - b| <= tol; REL: |a - b| <= rel x |b|.
// Include after <cmocka.h> (fail_msg) and <math.h>.
#pragma once

#define NEAR(a, b, tol)                                                                      \
  do {                                                                                       \
    double got_ = (double)(a), want_ = (double)(b);                                          \
    if (!(fabs(got_ - want_) <= (tol)))                                                      \
      fail_msg("%s = %.15g, expected %.15g (tolerance %g)", #a, got_, want_, (double)(tol)); \
  } while (0)
#define REL(a, b, rel) NEAR(a, b, (rel) * fabs((double)(b)))
