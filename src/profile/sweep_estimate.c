// How long a study point takes, before it runs (docs/cli.md, sweep), and how
// the points already run correct that on this machine.
#include <math.h>

#include "profile/sweep.h"

// Seconds of one unit by a rough roofline: the work at a sustained rate, or the
// weights (and, for decode, the KV cache) read once per forward call.
static double unit_s(const lj_model_config *c, const lj_profile_options *o, int decode, int on_gpu) {
  double params = (double)lj_config_n_params(c), flops_rate = on_gpu ? 400e12 : 10e9, bw = on_gpu ? 2.5e12 : 20e9;
  double kv_per_token = 2.0 * c->n_layers * (double)c->n_kv_heads * c->head_dim * 2;  // bf16 K and V
  if (!decode) {
    double t = 2 * params * o->batch * o->prompt_len / flops_rate, w = 2 * params / bw;
    return (t > w ? t : w) + (on_gpu ? 1e-3 : 0);
  }
  double steps = o->gen_len, kv = o->batch * (o->prompt_len + o->gen_len / 2.0) * kv_per_token;
  double t = 2 * params * o->batch / flops_rate, w = (2 * params + kv) / bw;
  return steps * ((t > w ? t : w) + (on_gpu ? 30e-6 : 0));  // + a graph node's launch per step
}

// A window: at least phase_seconds, and at least one unit.
static double window_s(double phase_s, double unit) { return unit > phase_s ? unit : phase_s; }

double lj_sweep_estimate_s(const lj_model_config *c, const lj_profile_options *o, int on_gpu, int tokenizer) {
  double params = (double)lj_config_n_params(c);
  double prefill = unit_s(c, o, 0, on_gpu), decode = unit_s(c, o, 1, on_gpu), ph = o->phase_seconds;
  // Load: random weights made on the device (GPU) or the host (CPU), repeated
  // until the window is phase_seconds long, at most 5 times.
  double load1 = on_gpu ? 0.3 + 2 * params / 100e9 : 0.1 + 2 * params / 1e9;
  double loads = ceil(ph / load1);
  double load = load1 * (loads < 1 ? 1 : loads > 5 ? 5 : loads);
  double preroll = on_gpu ? 0.2 : 0;
  double per_repeat = (tokenizer ? 2 * ph : 0) + preroll + window_s(ph, prefill) +
                      preroll + (on_gpu ? window_s(ph, decode) : decode);  // the CPU runs one decode per window
  double s = (on_gpu ? o->idle_seconds : 0) + load + prefill + decode + o->repeats * per_repeat + 3;
  if (on_gpu) {
    // Each stage's replay is set up once even without trials: ~4 units of its phase.
    s += 4 * prefill + 4 * decode / o->gen_len + 27 * 0.05;
    if (o->trials > 0) {
      double trial = o->replay_seconds + 0.15 + 0.05;  // + the pre-roll, 0.1-0.2 s
      s += (13 + 14 + (o->n_decode_kv - 1)) * o->trials * trial;
      if (o->sequence) s += 2 * 9 * o->trials * (o->replay_seconds + 0.15);
    }
    if (o->timeline) s += 2 * ph + prefill + 2 * decode;
  }
  return s;
}

double lj_sweep_calibration(const lj_study_point *p, size_t n) {
  double measured = 0, estimated = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i].status == LJ_POINT_DONE && p[i].seconds > 0 && p[i].estimate_s > 0)
      measured += p[i].seconds, estimated += p[i].estimate_s;
  return estimated > 0 ? measured / estimated : 1;
}
