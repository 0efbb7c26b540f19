// bench_engine --decode-energy (docs/engine-cuda.md, "Decode energy"): the arithmetic of the
// measurement, apart from the GPU so that tests check it without one. A point (a model's GEMV
// setting x fusion mode x batch) is measured in windows of back-to-back decode steps; the windows
// of all points run interleaved in a seeded random order, so that drift and the card's heating
// spread over every point; a point's J/token above idle is the mean over its windows with a
// Student-t interval; the closing line names the fastest point and the one of least energy.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/stats.h"
#include "llamajoule/meter.h"

// What one window measured.
typedef struct {
  double seconds;                 // its length
  int64_t steps;                  // decode steps inside (batch tokens each)
  double sample_j;                // gross energy by the driver's power samples (NAN: none)
  double counter_j;               // gross energy by the energy counter (NAN: none)
  double temp_first_c, temp_last_c;  // first and last temperature reading inside (NAN: none)
  double sm_mhz_min, sm_mhz_max;  // SM clock range read inside (NAN: none)
  uint64_t throttle;              // OR of the throttle reasons read inside
} lj_decode_energy_window;

// Idle power, each source's own: the samples' figure subtracts the samples' idle, the counter's
// the counter's (so that a source's offset cancels in its own difference).
typedef struct {
  double sample_w, sample_sd_w;
  double counter_w, counter_sd_w;
} lj_decode_energy_idle;

// A point over its windows.
typedef struct {
  int n;                       // windows
  int batch;
  int by_samples;              // 1: the estimate is the samples' figure (every window < LJ_SAMPLE_WINDOW_MAX_S
                               // with samples), 0: the counter's
  lj_mean_ci ms_per_step;      // over the windows
  double ms_per_token;         // ms_per_step's mean / batch
  double tok_s;                // tokens / seconds over all the windows
  lj_mean_ci dyn_j;            // J/token above idle, the estimate's source
  lj_mean_ci gross_j;          // J/token with idle, the same source
  lj_mean_ci other_dyn_j;      // J/token above idle by the other source (n 0: none)
  double mean_w;               // gross mean power, the estimate's source
  double temp_first_c, temp_last_c;  // means over the windows of each one's first and last reading
  double sm_mhz_min, sm_mhz_max;     // over all the windows
  uint64_t throttle;                 // over all the windows
} lj_decode_energy_point;

// The fastest point and the point of least J/token among some points (one model and batch).
typedef struct {
  int fastest, least;   // indices into the points given
  double time_pct;      // least's ms/step over fastest's - 1, in % (>= 0)
  double energy_pct;    // fastest's J/token over least's - 1, in % (>= 0)
  // 1: the two points' intervals overlap (within noise), 0: they do not, -1: no interval (one window)
  int time_noise, energy_noise;
} lj_decode_energy_summary;

// Seconds of pre-roll before every window: the same work, so that the window does not start cold.
#define LJ_DECODE_ENERGY_PREROLL_S 0.3
// What a window costs beyond its length and pre-roll, estimated: setting the point up (context,
// graph capture) and the last batch of steps running past the window's length.
#define LJ_DECODE_ENERGY_OVERHEAD_S 0.3

// The windows' order: `repeats` rounds, each every point once in a random order (splitmix64 from
// seed), a round never starting with the point the round before ended with (n_points > 1): no
// point's windows are back to back. order receives n_points x repeats point indices.
// LJ_EINVAL for n_points or repeats < 1.
int lj_decode_energy_order(int n_points, int repeats, uint64_t seed, int *order);

// The conditions of device dev's window [begin_ns, end_ns] from the sampler's readings s (n, any
// order): first and last temperature, SM clock range, throttle reasons (into w; the rest untouched).
void lj_decode_energy_window_conditions(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                                        lj_decode_energy_window *w);

// A point from its n windows at `batch` tokens a step, idle subtracted (each source its own),
// intervals at `level`. The samples' figure is the estimate where every window has one and lasts
// less than LJ_SAMPLE_WINDOW_MAX_S (the counter's 100 ms updates weigh on short windows), else
// the counter's where every window has one. LJ_EINVAL for n < 1, batch < 1, a window without
// steps or time, or no source that every window has.
int lj_decode_energy_point_stats(const lj_decode_energy_window *w, int n, int batch, const lj_decode_energy_idle *idle,
                                 double level, lj_decode_energy_point *out);

// The fastest (least ms/step) and least-energy (least dynamic J/token) of n points. LJ_EINVAL for n < 1.
int lj_decode_energy_summarize(const lj_decode_energy_point *p, int n, lj_decode_energy_summary *out);

// The closing line of a summary, labels[i] naming point i: "fastest LABEL a ms/token, least J/token
// LABEL b J/token: the fastest costs +x% J/token (within noise|apart), the least-energy point is y%
// slower (within noise|apart)", or one sentence when they are the same point.
void lj_decode_energy_summary_text(const lj_decode_energy_point *p, const char *const *labels,
                                   const lj_decode_energy_summary *s, char *buf, size_t cap);

// Expected seconds of n_windows windows of `seconds` each (pre-roll and overhead included).
double lj_decode_energy_estimate_s(int n_windows, double seconds);
