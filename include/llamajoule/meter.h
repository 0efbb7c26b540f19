// llamajoule power meter: the public C API.
//
// Three layers, each usable alone:
//   source   one interface, three implementations: NVML (dlopen), nvidia-smi
//            (a pipe), replay (a recorded trace on its own clock). A source
//            gives polled readings (lj_source_read) and streamed samples
//            (lj_source_drain: the driver's power-sample buffer, nvidia-smi
//            lines, replayed samples).
//   sampler  threads that poll and drain a source on fixed periods into
//            bounded ring buffers, stream batches to a sink callback (the
//            store), and feed the windows. lj_sampler_poll() does the same
//            work synchronously at a caller-given time (deterministic tests).
//   windows  named measurement intervals that may nest and overlap; energy
//            by energy-counter delta and by integrating power samples.
//
// Every function that can fail returns 0 or a negative lj_status
// (src/common/error.h) and records a one-line message (lj_error_message()).
// All times are CLOCK_MONOTONIC nanoseconds unless named otherwise.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- readings

typedef enum {
  LJ_READING_ENERGY = 0,     // energy counter, J since driver load (cumulative)
  LJ_READING_POWER_AVG,      // W, the driver's 1 s running average (field 185 / GetPowerUsage)
  LJ_READING_POWER_INSTANT,  // W, short-window power (field 186; nvidia-smi power.draw.instant)
  LJ_READING_POWER_MEMORY,   // W, HBM power (field 185, memory scope), 1 s average
  LJ_READING_POWER_SAMPLE,   // W, one sample of the driver's power buffer (nvmlDeviceGetSamples)
  LJ_READING_CLOCK_SM,       // MHz
  LJ_READING_CLOCK_MEM,      // MHz
  LJ_READING_TEMPERATURE,    // degrees C, GPU core
  LJ_READING_THROTTLE,       // bit mask of NVML clocks-event (throttle) reasons, as an integer value
  LJ_READING_UTIL_GPU,       // %, kernel-active time over the driver's last period
  LJ_READING_UTIL_MEM,       // %, memory-controller busy time
  LJ_READING_POWER_LIMIT,    // W, enforced power limit
  LJ_READING_COUNT
} lj_reading;

#define LJ_READING_BIT(r) (1u << (unsigned)(r))

const char *lj_reading_name(lj_reading r);  // "energy", "power_avg", ... (stable: used in CSV and the store)
const char *lj_reading_unit(lj_reading r);  // "J", "W", "MHz", "C", "mask", "%"
int lj_reading_from_name(const char *name); // lj_reading, or -1 when unknown

// Sample flags.
enum {
  LJ_SAMPLE_SOURCE_TIME = 1u << 0,  // t_ns comes from the source's own timestamp (mapped), not the host read
  LJ_SAMPLE_AFTER_GAP = 1u << 1,    // samples were lost just before this one (driver buffer overrun, pipe stall)
  LJ_SAMPLE_INTERPOLATED = 1u << 2, // derived value (e.g. energy integrated from nvidia-smi power)
};

// One reading. 40 bytes; the sink receives arrays of these.
typedef struct {
  int64_t t_ns;        // monotonic ns the value belongs to: the read's midpoint, or the
                       // source's own timestamp mapped onto the monotonic axis
  int64_t read_ns;     // monotonic ns when the host read started (0 when there was no host read)
  int64_t source_us;   // the source's own timestamp (NVML: us since the Unix epoch), 0 if none
  double value;        // in lj_reading_unit(reading)
  int32_t read_dur_ns; // how long the read call took (0 when unknown)
  uint16_t device;     // device index within the source
  uint8_t reading;     // lj_reading
  uint8_t flags;       // LJ_SAMPLE_*
} lj_sample;

// ---------------------------------------------------------------- devices

typedef struct {
  int index;                // index within the source, 0..n-1
  int nvml_index;           // NVML's index of the GPU, -1 when unknown
  int cuda_index;           // the CUDA runtime's index under CUDA_VISIBLE_DEVICES, -1 when unknown
  char name[96];            // "NVIDIA H100 80GB HBM3"
  char uuid[96];            // "GPU-0123abcd-..."
  char pci_bus_id[32];      // "00000000:18:00.0"
  char driver_version[80];  // "580.159.04"
  char nvml_version[80];    // "13.580.159.04"
  char source[16];          // "nvml", "nvidia-smi", "replay"
  double power_limit_w;     // enforced power limit, 0 when unknown
  uint32_t supported;       // LJ_READING_BIT(r) for every reading this device gives
  uint32_t streamed;        // of those, the ones delivered by lj_source_drain (not lj_source_read)
} lj_device_info;

// ---------------------------------------------------------------- sources

typedef struct lj_source lj_source;

typedef struct {
  // Respect CUDA_VISIBLE_DEVICES (indices, GPU-UUIDs or MIG ids): only the
  // visible GPUs are opened, in CUDA's order. Default 1.
  int respect_cuda_visible_devices;
  // Path of the NVML library; NULL = "libnvidia-ml.so.1" (tests point it elsewhere).
  const char *library;
} lj_nvml_options;

typedef struct {
  const char *command;  // NULL = "nvidia-smi" (found through PATH)
  int period_ms;        // -lms N; 0 = 20
  int respect_cuda_visible_devices;  // default 1
} lj_smi_options;

typedef struct lj_trace lj_trace;

void lj_nvml_options_default(lj_nvml_options *o);
void lj_smi_options_default(lj_smi_options *o);

// No driver -> LJ_ENODEV ("libnvidia-ml.so.1 was not found (no NVIDIA driver)");
// no GPU -> LJ_ENODEV; permission denied -> LJ_EPERM.
int lj_source_open_nvml(lj_source **out, const lj_nvml_options *opt);  // opt NULL = defaults
// nvidia-smi missing -> LJ_ENODEV. Readings arrive as streams (lj_source_drain).
int lj_source_open_smi(lj_source **out, const lj_smi_options *opt);
// Plays `trace` back (the trace is copied). The clock starts at the trace's
// first sample; lj_source_set_now() moves it (tests), or, with realtime=1,
// it follows the monotonic clock from the moment of opening.
int lj_source_open_replay(lj_source **out, const lj_trace *trace, int realtime);
// The same, but the readings in `polled` (LJ_READING_BIT mask) are polled as
// from a driver: lj_source_read returns the latest recorded value at or
// before the clock with t_ns = the clock (the read time); drains skip them.
int lj_source_open_replay_polled(lj_source **out, const lj_trace *trace, int realtime, uint32_t polled);
void lj_source_close(lj_source *src);

const char *lj_source_kind(const lj_source *src);  // "nvml", "nvidia-smi", "replay"
int lj_source_device_count(const lj_source *src);
int lj_source_device_info(const lj_source *src, int dev, lj_device_info *out);
int64_t lj_source_now_ns(lj_source *src);  // the source's clock (monotonic, or the replay's)
// Replay: set the clock. Other sources: LJ_EUNSUPPORTED (they follow the host clock).
int lj_source_set_now(lj_source *src, int64_t now_ns);

// One polled reading now. LJ_EUNSUPPORTED when the device/driver cannot give
// it (not an error worth stopping for); other negatives are real failures.
// Safe to call from several threads at once (different readings).
int lj_source_read(lj_source *src, int dev, lj_reading r, lj_sample *out);

// Streamed samples produced since the last drain of this device (driver
// buffer, nvidia-smi lines, replayed samples up to the source's clock), in
// time order; at most `cap`, *n_out set. A later call returns the rest.
int lj_source_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out);

typedef struct {
  uint64_t buffer_samples;  // streamed samples returned so far
  uint64_t buffer_gaps;     // times samples were lost between two drains (buffer overrun)
  uint64_t buffer_dups;     // samples the driver returned twice (dropped)
  uint64_t read_errors;     // failed reads other than "unsupported"
  double wall_offset_ns;    // current estimate of CLOCK_REALTIME - CLOCK_MONOTONIC
  int64_t wall_offset_uncertainty_ns;  // half-width of the best paired read
} lj_source_stats;
int lj_source_stats_get(lj_source *src, int dev, lj_source_stats *out);

// ---------------------------------------------------------------- traces

// A recorded trace: samples in any order (lj_trace_sort puts them in time
// order) and the devices they belong to. The store fills the same struct.
struct lj_trace {
  lj_sample *samples;
  size_t n_samples, cap_samples;
  lj_device_info *devices;
  int n_devices, cap_devices;
};

void lj_trace_init(lj_trace *t);
void lj_trace_free(lj_trace *t);
int lj_trace_add_device(lj_trace *t, const lj_device_info *info);
int lj_trace_append(lj_trace *t, const lj_sample *s, size_t n);
void lj_trace_sort(lj_trace *t);  // by time, stable

// CSV trace format (docs/meter.md). The parser is strict: every error names
// `name` (file), line and column. `text` need not be NUL-terminated.
int lj_trace_parse_csv(const char *text, size_t len, const char *name, lj_trace *out);
int lj_trace_read_csv(const char *path, lj_trace *out);
int lj_trace_write_csv(const lj_trace *t, const char *path);

// ---------------------------------------------------------------- windows

typedef struct lj_windows lj_windows;

enum {
  LJ_WINDOW_OPEN = 1u << 0,          // not ended yet (values so far)
  LJ_WINDOW_PENDING = 1u << 1,       // ended, but no sample after its end has arrived yet
  LJ_WINDOW_SHORT = 1u << 2,         // shorter than the counter's update period, or < 2 counter updates inside
  LJ_WINDOW_NO_COUNTER = 1u << 3,    // no counter readings bracket the window: counter energy unknown
  LJ_WINDOW_NO_SAMPLES = 1u << 4,    // no power samples bracket the window: integrated energy unknown
  LJ_WINDOW_COUNTER_RESET = 1u << 5, // the counter went backwards inside (driver reload): delta estimated
  LJ_WINDOW_GAP = 1u << 6,           // power samples were lost inside the window
  LJ_WINDOW_EXTRAPOLATED = 1u << 7,  // a boundary lies outside the samples (held at the nearest value)
};

typedef struct {
  char name[64];
  int handle;
  int device;                  // device index, or -1 for the sum over devices
  int64_t begin_ns, end_ns;    // end = now while open
  double duration_s;
  // (a) energy-counter delta, boundary values interpolated between bracketing readings
  double counter_energy_j;
  int counter_updates;         // counter value changes inside the window
  // (b) trapezoid integral of the power samples (driver buffer; nvidia-smi: instant power)
  double sample_energy_j;
  int n_samples;               // power samples inside the window
  int integrated_reading;      // lj_reading integrated for (b)
  double mean_power_w;         // (b) / duration; (a) / duration when (b) is unknown
  double peak_power_w;         // highest power sample inside (boundary values included)
  double idle_power_w;         // baseline used below (0 = none set)
  double counter_above_idle_j; // counter_energy_j - idle_power_w * duration_s
  double sample_above_idle_j;  // sample_energy_j  - idle_power_w * duration_s
  uint32_t flags;              // LJ_WINDOW_*
} lj_window_result;

// A window engine fed with samples; begin/end at explicit times. Thread-safe.
int lj_windows_create(lj_windows **out, int n_devices);
void lj_windows_free(lj_windows *w);
// Idle baseline for "above idle" energies; per device.
void lj_windows_set_idle(lj_windows *w, int dev, double idle_w);
// The counter's own update period (NVML: ~100 ms), used for LJ_WINDOW_SHORT:
// a window shorter than it is SHORT. 0 (default) = estimated from the
// readings, and then a window with < 2 counter updates inside is SHORT too
// (with reads slower than the updates the estimate is the read period).
void lj_windows_set_counter_period(lj_windows *w, int dev, int64_t period_ns);
// Called (outside the engine's lock, from the thread that calls begin/end)
// after every window begin and end: the sampler reads the energy counter then.
typedef void (*lj_window_boundary_fn)(void *user);
void lj_windows_on_boundary(lj_windows *w, lj_window_boundary_fn fn, void *user);
// Which streamed power reading (b) integrates; default: POWER_SAMPLE if any
// arrive, else POWER_INSTANT.
void lj_windows_set_integrated(lj_windows *w, int dev, lj_reading r);
// Readings (LJ_READING_BIT mask) that will keep arriving for `dev`: an ended
// window becomes final once each of ENERGY / POWER_SAMPLE / POWER_INSTANT in
// the mask has a sample at or after its end. Until set, windows become final
// only at lj_windows_finish. The sampler sets it from the source's devices.
void lj_windows_expect(lj_windows *w, int dev, uint32_t readings);
int lj_windows_add(lj_windows *w, const lj_sample *s, size_t n);
int lj_windows_begin(lj_windows *w, const char *name, int64_t t_ns);  // handle >= 0, or negative error
int lj_windows_end(lj_windows *w, int handle, int64_t t_ns);
// Ends the most recently begun open window called `name`; returns its handle.
int lj_windows_end_by_name(lj_windows *w, const char *name, int64_t t_ns);
// device = -1: sum over devices. Works any time (flags say OPEN / PENDING).
int lj_windows_result(lj_windows *w, int handle, int device, lj_window_result *out);
int lj_windows_count(const lj_windows *w);  // handles are 0..count-1
// No more samples will come: pending windows are computed with what there is.
void lj_windows_finish(lj_windows *w);

// ---------------------------------------------------------------- sampler

typedef struct lj_sampler lj_sampler;

// Receives batches of samples (any devices, each stream in time order) from
// the sampler's delivery thread, never from the measured program's thread.
// A non-zero return stops further deliveries (the error is kept).
typedef int (*lj_sample_sink)(void *user, const lj_sample *samples, size_t n);

typedef struct {
  int64_t field_period_ns;    // polled fast fields (power, SM clock, throttle reasons): 10 ms
  int64_t counter_period_ns;  // energy counter, background reads in its own thread: 1000 ms
                              // (one NVML read spins ~3-4 ms of CPU on H100); every window
                              // begin and end also wakes the thread for a read at once
  int64_t counter_update_ns;  // the counter's own update period: 100 ms (NVML). The windows use it
                              // for LJ_WINDOW_SHORT; boundary reads come no sooner than this after
                              // the last read (crowded windows cost at most one read per update)
  int64_t drain_period_ns;    // driver buffer / streamed samples, and the slow fields: 250 ms
  uint32_t slow_readings;     // polled readings read with each drain instead of every field period
                              // (mask): utilisation, memory clock, temperature (0 = none);
                              // the power limit is always read with each drain
  int64_t deliver_period_ns;  // batches to the sink and the windows: 50 ms
  size_t ring_capacity;       // samples per producer ring: 65536; when full, new samples are dropped and counted
  uint32_t field_readings;    // polled readings besides the counter (mask); 0 = every supported one
  lj_sample_sink sink;        // may be NULL
  void *sink_user;
} lj_sampler_config;

typedef struct {
  uint64_t samples;        // delivered
  uint64_t dropped;        // ring full (sink too slow)
  uint64_t read_errors;    // failed reads (not "unsupported")
  uint64_t buffer_gaps;    // driver-buffer overruns seen by the source
  uint64_t sink_batches;
  int sink_error;          // first non-zero sink return, 0 if none
  int64_t cpu_ns;          // CPU time of all sampler threads (CLOCK_THREAD_CPUTIME_ID, summed)
  int64_t wall_ns;         // time since start (until stop)
  double cpu_percent;      // cpu_ns / wall_ns * 100: % of one core
} lj_sampler_stats;

void lj_sampler_config_default(lj_sampler_config *c);
// The sampler does not own the source; the source must outlive it.
int lj_sampler_create(lj_sampler **out, lj_source *src, const lj_sampler_config *cfg);
void lj_sampler_free(lj_sampler *s);  // stops first if running

// Threaded mode: per device one counter thread and one fields+drain thread,
// plus one delivery thread.
int lj_sampler_start(lj_sampler *s);
// Joins the threads, drains the source one last time, delivers everything,
// finishes the windows. Idempotent.
int lj_sampler_stop(lj_sampler *s);

// Manual mode (no threads): do every read/drain/delivery due at `now_ns`
// (on a replay source the clock is set to now_ns first). Deterministic.
int lj_sampler_poll(lj_sampler *s, int64_t now_ns);

int64_t lj_sampler_now(lj_sampler *s);       // the source's clock (manual mode: last poll time)
lj_windows *lj_sampler_windows(lj_sampler *s);  // the windows the sampler feeds
void lj_sampler_stats_get(lj_sampler *s, lj_sampler_stats *out);

// Windows at the sampler's clock ("now").
int lj_meter_begin(lj_sampler *s, const char *name);                      // handle
int lj_meter_end(lj_sampler *s, const char *name);                        // handle
int lj_meter_end_handle(lj_sampler *s, int handle);                       // 0
// Asks for an energy-counter read at once (threads: the counter threads are
// woken; manual mode: read now, at the last poll time). Window begins and
// ends on lj_sampler_windows() do this by themselves.
void lj_sampler_read_counter_now(lj_sampler *s);
// Waits (up to timeout_ns, threaded mode) until the window is no longer
// PENDING, then fills the result; device -1 = all devices.
int lj_meter_result(lj_sampler *s, int handle, int device, lj_window_result *out, int64_t timeout_ns);

// ---------------------------------------------------------------- idle baseline

typedef struct {
  int device;
  double seconds;
  double counter_mean_w;     // counter delta / time
  double counter_stddev_w;   // over the counter's update intervals
  double sample_mean_w;      // mean of the power samples (driver buffer, else instant)
  double sample_stddev_w;
  int n_counter_updates;
  int n_samples;
  double mean_w;             // the baseline to use: counter_mean_w when known, else sample_mean_w
  double temperature_c;      // mean GPU temperature during the measurement (0 when unknown)
  int64_t begin_ns, end_ns;
} lj_idle_result;

// Measures idle power of device `dev` for `seconds` on an already open
// source (the caller opens a CUDA context first). Blocks for `seconds`.
int lj_measure_idle(lj_source *src, int dev, double seconds, lj_idle_result *out);
// Same from recorded samples (replay, tests): the samples of `dev` in [begin, end].
int lj_idle_from_samples(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                         lj_idle_result *out);

#ifdef __cplusplus
}
#endif
