// The programmatic-dependent-launch switch (see pdl.h).
#include "engine/cuda/pdl.h"

static int g_pdl_on = 1;  // read at launch time; set from one thread before running

void lj_cuda_set_pdl(int on) { g_pdl_on = on; }
int lj_cuda_pdl_enabled(void) { return g_pdl_on; }
