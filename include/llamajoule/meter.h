/// @file
/// @brief llamajoule power meter: the public C API.
///
/// Three layers, each usable alone:
/// - **source**: one interface, three implementations: NVML (dlopen), nvidia-smi
///   (a pipe), replay (a recorded trace on its own clock). A source gives polled
///   readings (lj_source_read()) and streamed samples (lj_source_drain(): the
///   driver's power-sample buffer, nvidia-smi lines, replayed samples).
/// - **sampler**: threads that poll and drain a source on fixed periods into
///   bounded ring buffers, stream batches to a sink callback (the store), and
///   feed the windows. lj_sampler_poll() does the same work synchronously at a
///   caller-given time (deterministic tests).
/// - **windows**: named measurement intervals that may nest and overlap; energy
///   by energy-counter delta and by integrating power samples.
///
/// Every function that can fail returns 0 (or a handle, >= 0) or a negative
/// ::lj_status (llamajoule/error.h) and records a one-line message
/// (lj_error_message()). All times are CLOCK_MONOTONIC nanoseconds unless
/// named otherwise; a replay source has its own clock on the trace's axis.
///
/// What the figures mean and what NVML cannot see: docs/meter.md and
/// docs/limitations.md. A whole program that measures a region of its own
/// code: examples/meter_region/main.c.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/error.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- readings

/// What a sample measures. The names (lj_reading_name()) are stable: the CSV
/// traces and the store use them.
typedef enum {
  LJ_READING_ENERGY = 0,     ///< energy counter, J since driver load (cumulative; updates every ~100 ms)
  LJ_READING_POWER_AVG,      ///< W, the driver's 1 s running average (field 185 / GetPowerUsage)
  LJ_READING_POWER_INSTANT,  ///< W, short-window power (field 186; nvidia-smi power.draw.instant)
  LJ_READING_POWER_MEMORY,   ///< W, HBM power (field 185, memory scope), 1 s average
  LJ_READING_POWER_SAMPLE,   ///< W, one sample of the driver's power buffer (nvmlDeviceGetSamples; ~20 ms apart)
  LJ_READING_CLOCK_SM,       ///< MHz, SM clock
  LJ_READING_CLOCK_MEM,      ///< MHz, memory clock
  LJ_READING_TEMPERATURE,    ///< degrees C, GPU core
  LJ_READING_THROTTLE,       ///< bit mask of NVML clocks-event (throttle) reasons, as an integer value
  LJ_READING_UTIL_GPU,       ///< %, kernel-active time over the driver's last period
  LJ_READING_UTIL_MEM,       ///< %, memory-controller busy time
  LJ_READING_POWER_LIMIT,    ///< W, enforced power limit
  LJ_READING_COUNT           ///< number of readings (not a reading)
} lj_reading;

/// The bit of reading `r` in a reading mask (lj_device_info::supported, ...).
#define LJ_READING_BIT(r) (1u << (unsigned)(r))

/// Stable name of a reading: "energy", "power_avg", ... (used in CSV and the store).
/// @return the name, or "?" for a value outside ::lj_reading
const char *lj_reading_name(lj_reading r);
/// Unit of a reading: "J", "W", "MHz", "C", "mask", "%".
const char *lj_reading_unit(lj_reading r);
/// The reading called `name` (as lj_reading_name() spells it).
/// @return an ::lj_reading, or -1 when the name is unknown
int lj_reading_from_name(const char *name);

/// Sample flags (lj_sample::flags).
enum {
  LJ_SAMPLE_SOURCE_TIME = 1u << 0,  ///< t_ns comes from the source's own timestamp (mapped), not the host read
  LJ_SAMPLE_AFTER_GAP = 1u << 1,    ///< samples were lost just before this one (driver buffer overrun, pipe stall)
  LJ_SAMPLE_INTERPOLATED = 1u << 2, ///< derived value (e.g. energy integrated from nvidia-smi power)
};

/// One reading. 40 bytes; the sink receives arrays of these.
typedef struct {
  int64_t t_ns;        ///< monotonic ns the value belongs to: the read's midpoint, or the
                       ///< source's own timestamp mapped onto the monotonic axis
  int64_t read_ns;     ///< monotonic ns when the host read started (0 when there was no host read)
  int64_t source_us;   ///< the source's own timestamp (NVML: us since the Unix epoch), 0 if none
  double value;        ///< in lj_reading_unit(reading)
  int32_t read_dur_ns; ///< how long the read call took (0 when unknown)
  uint16_t device;     ///< device index within the source
  uint8_t reading;     ///< an ::lj_reading
  uint8_t flags;       ///< LJ_SAMPLE_* bits
} lj_sample;

// ---------------------------------------------------------------- devices

/// One GPU as a source sees it (lj_source_device_info()).
typedef struct {
  int index;                ///< index within the source, 0..n-1
  int nvml_index;           ///< NVML's index of the GPU, -1 when unknown
  int cuda_index;           ///< the CUDA runtime's index under CUDA_VISIBLE_DEVICES, -1 when unknown
  char name[96];            ///< "NVIDIA H100 80GB HBM3"
  char uuid[96];            ///< "GPU-0123abcd-..."
  char pci_bus_id[32];      ///< "00000000:18:00.0"
  char driver_version[80];  ///< "580.159.04"
  char nvml_version[80];    ///< "13.580.159.04"
  char source[16];          ///< "nvml", "nvidia-smi", "replay"
  double power_limit_w;     ///< enforced power limit, 0 when unknown
  uint32_t supported;       ///< LJ_READING_BIT(r) for every reading this device gives
  uint32_t streamed;        ///< of those, the ones delivered by lj_source_drain() (not lj_source_read())
} lj_device_info;

// ---------------------------------------------------------------- sources

/// A source of readings (opaque): NVML, nvidia-smi or a replayed trace.
typedef struct lj_source lj_source;

/// Options of lj_source_open_nvml(); fill with lj_nvml_options_default() first.
typedef struct {
  /// Respect CUDA_VISIBLE_DEVICES (indices, GPU-UUIDs or MIG ids): only the
  /// visible GPUs are opened, in CUDA's order. Default 1.
  int respect_cuda_visible_devices;
  /// Path of the NVML library; NULL = "libnvidia-ml.so.1" (tests point it elsewhere).
  const char *library;
} lj_nvml_options;

/// Options of lj_source_open_smi(); fill with lj_smi_options_default() first.
typedef struct {
  const char *command;  ///< NULL = "nvidia-smi" (found through PATH)
  int period_ms;        ///< nvidia-smi's -lms N; 0 = 20
  int respect_cuda_visible_devices;  ///< as in lj_nvml_options; default 1
} lj_smi_options;

/// A recorded trace (defined below, with its functions).
typedef struct lj_trace lj_trace;

/// Fills `o` with the defaults (CUDA_VISIBLE_DEVICES respected, the system's NVML).
void lj_nvml_options_default(lj_nvml_options *o);
/// Fills `o` with the defaults (nvidia-smi from PATH, 20 ms, CUDA_VISIBLE_DEVICES respected).
void lj_smi_options_default(lj_smi_options *o);

/// Opens the GPUs through NVML (libnvidia-ml.so.1, loaded at run time).
/// @param out the source; NULL on failure. Close with lj_source_close().
/// @param opt options, NULL = defaults
/// @return 0; ::LJ_ENODEV without a driver ("libnvidia-ml.so.1 was not found
///         (no NVIDIA driver)") or without a GPU; ::LJ_EPERM when permission is denied
int lj_source_open_nvml(lj_source **out, const lj_nvml_options *opt);
/// Opens the GPUs through nvidia-smi's query loop (a pipe). Every reading
/// arrives as a stream (lj_source_drain()); the energy is integrated from
/// power (flag ::LJ_SAMPLE_INTERPOLATED).
/// @param out the source; NULL on failure
/// @param opt options, NULL = defaults
/// @return 0; ::LJ_ENODEV when nvidia-smi is missing or fails
int lj_source_open_smi(lj_source **out, const lj_smi_options *opt);
/// Plays a recorded trace back: every sample is streamed at its t_ns.
/// @param out the source; NULL on failure
/// @param trace the trace (copied: it may be freed after the call)
/// @param realtime 0: the clock starts at the trace's first sample and moves only
///        with lj_source_set_now() (tests); 1: it starts there and follows the
///        monotonic clock from the moment of opening (a program measuring itself)
/// @return 0; ::LJ_EINVAL for a trace with no devices and no samples
int lj_source_open_replay(lj_source **out, const lj_trace *trace, int realtime);
/// As lj_source_open_replay(), but the readings in `polled` (LJ_READING_BIT
/// mask) are polled as from a driver: lj_source_read() returns the latest
/// recorded value at or before the clock with t_ns = the clock (the read
/// time), and drains skip them.
int lj_source_open_replay_polled(lj_source **out, const lj_trace *trace, int realtime, uint32_t polled);
/// Closes a source (NULL is allowed). Free its samplers first.
void lj_source_close(lj_source *src);

/// The kind of a source: "nvml", "nvidia-smi" or "replay".
const char *lj_source_kind(const lj_source *src);
/// Number of devices the source opened (>= 1 for an open source).
int lj_source_device_count(const lj_source *src);
/// Describes device `dev` (0..count-1).
/// @return 0, or ::LJ_EINVAL for an index out of range
int lj_source_device_info(const lj_source *src, int dev, lj_device_info *out);
/// The source's clock, ns: monotonic for NVML and nvidia-smi, the trace's axis for a replay.
int64_t lj_source_now_ns(lj_source *src);
/// Sets a replay's clock (tests). Other sources: ::LJ_EUNSUPPORTED (they follow the host clock).
int lj_source_set_now(lj_source *src, int64_t now_ns);

/// One polled reading now. Safe to call from several threads at once (different readings).
/// @param src the source
/// @param dev device index
/// @param r the reading
/// @param out the sample read
/// @return 0; ::LJ_EUNSUPPORTED when the device/driver cannot give it (not an
///         error worth stopping for); other negatives are real failures
int lj_source_read(lj_source *src, int dev, lj_reading r, lj_sample *out);

/// Streamed samples produced since the last drain of this device (driver
/// buffer, nvidia-smi lines, replayed samples up to the source's clock), in
/// time order. A later call returns the rest.
/// @param src the source
/// @param dev device index
/// @param out room for `cap` samples
/// @param cap at most this many are returned
/// @param n_out set to the number returned
/// @return 0 or a negative ::lj_status
int lj_source_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out);

/// Health counters of a source's device (lj_source_stats_get()).
typedef struct {
  uint64_t buffer_samples;  ///< streamed samples returned so far
  uint64_t buffer_gaps;     ///< times samples were lost between two drains (buffer overrun)
  uint64_t buffer_dups;     ///< samples the driver returned twice (dropped)
  uint64_t read_errors;     ///< failed reads other than "unsupported"
  double wall_offset_ns;    ///< current estimate of CLOCK_REALTIME - CLOCK_MONOTONIC
  int64_t wall_offset_uncertainty_ns;  ///< half-width of the best paired read
} lj_source_stats;
/// Fills `out` with device `dev`'s counters. @return 0 or ::LJ_EINVAL
int lj_source_stats_get(lj_source *src, int dev, lj_source_stats *out);

// ---------------------------------------------------------------- traces

/// A recorded trace: samples in any order (lj_trace_sort() puts them in time
/// order) and the devices they belong to. The store fills the same struct.
/// Initialise with lj_trace_init(), free with lj_trace_free().
struct lj_trace {
  lj_sample *samples;        ///< the samples (n_samples of them)
  size_t n_samples;          ///< samples held
  size_t cap_samples;        ///< samples allocated
  lj_device_info *devices;   ///< the devices (n_devices of them), index = position
  int n_devices;             ///< devices held
  int cap_devices;           ///< devices allocated
};

/// Makes `t` an empty trace.
void lj_trace_init(lj_trace *t);
/// Frees what `t` holds and makes it empty again.
void lj_trace_free(lj_trace *t);
/// Appends a device (its index becomes n_devices). @return 0 or ::LJ_ENOMEM
int lj_trace_add_device(lj_trace *t, const lj_device_info *info);
/// Appends `n` samples (copied). @return 0 or ::LJ_ENOMEM
int lj_trace_append(lj_trace *t, const lj_sample *s, size_t n);
/// Sorts the samples by time (stable: recorded order breaks ties).
void lj_trace_sort(lj_trace *t);

/// Parses a CSV trace (format: docs/meter.md, "CSV trace format"). The parser
/// is strict: every error names `name`, line and column
/// (`"run.csv:12:9: device is not an integer in 0..255"`).
/// @param text the CSV text; need not be NUL-terminated
/// @param len its length in bytes
/// @param name the file name used in messages
/// @param out an initialised trace the rows are added to (sorted by time)
/// @return 0; ::LJ_EINVAL for malformed input; ::LJ_ENOMEM
int lj_trace_parse_csv(const char *text, size_t len, const char *name, lj_trace *out);
/// Reads and parses a CSV trace file. @return 0; ::LJ_EIO when it cannot be read; as lj_trace_parse_csv()
int lj_trace_read_csv(const char *path, lj_trace *out);
/// Writes `t` as a CSV trace (full form, with \#device lines). @return 0 or ::LJ_EIO
int lj_trace_write_csv(const lj_trace *t, const char *path);

// ---------------------------------------------------------------- windows

/// A window engine (opaque): named intervals and the samples that measure them.
typedef struct lj_windows lj_windows;

/// Window flags (lj_window_result::flags): what a window's figures rest on.
enum {
  LJ_WINDOW_OPEN = 1u << 0,          ///< not ended yet (values so far)
  LJ_WINDOW_PENDING = 1u << 1,       ///< ended, but no sample after its end has arrived yet
  LJ_WINDOW_SHORT = 1u << 2,         ///< shorter than the counter's update period, or < 2 counter updates inside
  LJ_WINDOW_NO_COUNTER = 1u << 3,    ///< no counter readings bracket the window: counter energy unknown
  LJ_WINDOW_NO_SAMPLES = 1u << 4,    ///< no power samples bracket the window: integrated energy unknown
  LJ_WINDOW_COUNTER_RESET = 1u << 5, ///< the counter went backwards inside (driver reload): delta estimated
  LJ_WINDOW_GAP = 1u << 6,           ///< power samples were lost inside the window
  LJ_WINDOW_EXTRAPOLATED = 1u << 7,  ///< a boundary lies outside the samples (held at the nearest value)
  /// set by a reader that reports (b), not (a), as the window's energy (llamajoule profile: a phase
  /// whose windows are all under 10 s with their samples whole, where the counter's update edges
  /// spread its delta by a few percent; any window under two counter periods)
  LJ_WINDOW_SAMPLE_ENERGY = 1u << 8,
  /// set by a reader on an estimate over several windows: its figure by the counter lies outside
  /// the interval of its figure from the samples, or the reverse; on a profile phase: the paired
  /// per-window differences of the two exclude 0 (llamajoule profile)
  LJ_WINDOW_SOURCES_DISAGREE = 1u << 9,
  /// set by a reader on a replay trial (and the estimates over it): the window ran at the power
  /// cap (a power-cap or power-brake throttle reason seen inside, or mean power >= 98% of the
  /// limit), so the replay's clocks were not the run's (llamajoule profile)
  LJ_WINDOW_POWER_CAP = 1u << 10,
  /// the engine finished (lj_windows_finish()) before any reading of this device at or after the
  /// window's end arrived: its sampler threads lagged or stopped, so its figure extends what came
  /// before (::LJ_WINDOW_EXTRAPOLATED too). The device stays in the sum, which carries the flag.
  LJ_WINDOW_INCOMPLETE = 1u << 11,
};

/// A window's energy, measured two ways, and how it was obtained.
typedef struct {
  char name[64];               ///< the name given at begin
  int handle;                  ///< the handle lj_windows_begin() returned
  int device;                  ///< device index, or -1 for the sum over devices
  int64_t begin_ns;            ///< begin, on the source's clock
  int64_t end_ns;              ///< end (= now while open)
  double duration_s;           ///< end - begin, s
  /// (a) energy-counter delta, J; each boundary value interpolated between the
  /// bracketing counter readings
  double counter_energy_j;
  int counter_updates;         ///< counter value changes inside the window
  /// (b) trapezoid integral of the power samples, J (driver buffer; nvidia-smi:
  /// instant power)
  double sample_energy_j;
  int n_samples;               ///< power samples inside the window
  int integrated_reading;      ///< the ::lj_reading integrated for (b)
  double mean_power_w;         ///< (b) / duration; (a) / duration when (b) is unknown
  double peak_power_w;         ///< highest power sample inside (boundary values included)
  double idle_power_w;         ///< baseline used below (0 = none set: lj_windows_set_idle())
  double counter_above_idle_j; ///< counter_energy_j - idle_power_w * duration_s
  double sample_above_idle_j;  ///< sample_energy_j  - idle_power_w * duration_s
  uint32_t flags;              ///< LJ_WINDOW_* bits
} lj_window_result;

/// Creates a window engine fed with samples; begin/end at explicit times. Thread-safe.
/// @param out the engine; free with lj_windows_free()
/// @param n_devices devices whose samples it will receive (0..n_devices-1)
/// @return 0, ::LJ_EINVAL or ::LJ_ENOMEM
int lj_windows_create(lj_windows **out, int n_devices);
/// Frees an engine (NULL is allowed).
void lj_windows_free(lj_windows *w);
/// Device `dev` is not metered (a GPU of the source that the measured work does not use): its
/// samples are ignored, it holds back no window, it is left out of the sum (device -1), and
/// lj_windows_result() for it is ::LJ_EINVAL. The sampler calls it for the devices its
/// lj_sampler_config::devices leaves out.
void lj_windows_exclude(lj_windows *w, int dev);
/// Idle baseline of device `dev`, W, for the "above idle" energies. It applies
/// to every window's result, read after the call.
void lj_windows_set_idle(lj_windows *w, int dev, double idle_w);
/// The counter's own update period (NVML: ~100 ms), used for ::LJ_WINDOW_SHORT:
/// a window shorter than it is SHORT. 0 (default) = estimated from the
/// readings, and then a window with < 2 counter updates inside is SHORT too
/// (with reads slower than the updates the estimate is the read period).
void lj_windows_set_counter_period(lj_windows *w, int dev, int64_t period_ns);
/// Callback for lj_windows_on_boundary().
/// @param user the pointer given with it
typedef void (*lj_window_boundary_fn)(void *user);
/// Calls `fn` (outside the engine's lock, from the thread that calls begin/end)
/// after every window begin and end: the sampler reads the energy counter then.
void lj_windows_on_boundary(lj_windows *w, lj_window_boundary_fn fn, void *user);
/// Which streamed power reading (b) integrates; default: ::LJ_READING_POWER_SAMPLE
/// if any arrive, else ::LJ_READING_POWER_INSTANT.
void lj_windows_set_integrated(lj_windows *w, int dev, lj_reading r);
/// Readings (LJ_READING_BIT mask) that will keep arriving for `dev`: an ended
/// window becomes final once each of ENERGY / POWER_SAMPLE / POWER_INSTANT in
/// the mask has a sample at or after its end. Until set, windows become final
/// only at lj_windows_finish(). The sampler sets it from the source's devices.
void lj_windows_expect(lj_windows *w, int dev, uint32_t readings);
/// Feeds samples (any devices, any order; duplicates and samples older than
/// the kept history are dropped). Each device's figure for an ended window
/// becomes final on its own readings: one device's samples arriving late hold
/// back only its figure and the sum (::LJ_WINDOW_PENDING), never another
/// device's. @return 0 or a negative ::lj_status
int lj_windows_add(lj_windows *w, const lj_sample *s, size_t n);
/// Begins a window called `name` at `t_ns`.
/// @return its handle (>= 0), or a negative ::lj_status
int lj_windows_begin(lj_windows *w, const char *name, int64_t t_ns);
/// Ends window `handle` at `t_ns`.
/// @return 0, or ::LJ_EINVAL (unknown handle, already ended, or `t_ns` before its begin)
int lj_windows_end(lj_windows *w, int handle, int64_t t_ns);
/// Ends the most recently begun open window called `name`.
/// @return its handle, or ::LJ_EINVAL when no open window has that name
int lj_windows_end_by_name(lj_windows *w, const char *name, int64_t t_ns);
/// A window's figures so far. Works any time (flags say ::LJ_WINDOW_OPEN / ::LJ_WINDOW_PENDING).
/// @param w the engine
/// @param handle the window
/// @param device a device index, or -1 for the sum over devices
/// @param out the result
/// @return 0 or ::LJ_EINVAL
int lj_windows_result(lj_windows *w, int handle, int device, lj_window_result *out);
/// Number of windows begun; handles are 0..count-1.
int lj_windows_count(const lj_windows *w);
/// No more samples will come: pending windows are computed with what there is.
void lj_windows_finish(lj_windows *w);

// ---------------------------------------------------------------- sampler

/// A sampler (opaque): reads a source on fixed periods and feeds its windows.
typedef struct lj_sampler lj_sampler;

/// Receives batches of samples (any devices, each stream in time order) from
/// the sampler's delivery thread, never from the measured program's thread.
/// @param user lj_sampler_config::sink_user
/// @param samples the batch
/// @param n its length
/// @return 0; a non-zero return stops further deliveries (the error is kept in
///         lj_sampler_stats::sink_error)
typedef int (*lj_sample_sink)(void *user, const lj_sample *samples, size_t n);

/// Sampler settings; fill with lj_sampler_config_default() first. Why the
/// defaults are what they are (CPU cost of each NVML call): docs/meter.md.
typedef struct {
  int64_t field_period_ns;    ///< polled fast fields (power, SM clock, throttle reasons): 10 ms
  /// energy counter, background reads in its own thread: 1000 ms (one NVML
  /// read spins ~3-4 ms of CPU on H100); every window begin and end also wakes
  /// the thread for a read at once
  int64_t counter_period_ns;
  /// the counter's own update period: 100 ms (NVML). The windows use it for
  /// ::LJ_WINDOW_SHORT; boundary reads come no sooner than this after the last
  /// read (crowded windows cost at most one read per update)
  int64_t counter_update_ns;
  int64_t drain_period_ns;    ///< driver buffer / streamed samples, and the slow fields: 250 ms
  /// polled readings read with each drain instead of every field period
  /// (mask): utilisation, memory clock, temperature (0 = none); the power
  /// limit is always read with each drain
  uint32_t slow_readings;
  int64_t deliver_period_ns;  ///< batches to the sink and the windows: 50 ms
  size_t ring_capacity;       ///< samples per producer ring: 65536; when full, new samples are dropped and counted
  uint32_t field_readings;    ///< polled readings besides the counter (mask); 0 = every supported one
  /// devices of the source to read (bit d = device d, d < 64); 0 = every device. Each one read
  /// gets its own threads; the others are left out of the windows (lj_windows_exclude()), so a
  /// tensor-parallel run on 2 of 8 GPUs sums the 2 it uses
  uint64_t devices;
  lj_sample_sink sink;        ///< may be NULL
  void *sink_user;            ///< passed to `sink`
} lj_sampler_config;

/// What a sampler did and cost (lj_sampler_stats_get()).
typedef struct {
  uint64_t samples;        ///< delivered
  uint64_t dropped;        ///< ring full (sink too slow)
  uint64_t read_errors;    ///< failed reads (not "unsupported")
  uint64_t buffer_gaps;    ///< driver-buffer overruns seen by the source
  uint64_t sink_batches;   ///< batches given to the sink
  int sink_error;          ///< first non-zero sink return, 0 if none
  int64_t cpu_ns;          ///< CPU time of all sampler threads (CLOCK_THREAD_CPUTIME_ID, summed)
  int64_t wall_ns;         ///< time since start (until stop)
  double cpu_percent;      ///< cpu_ns / wall_ns * 100: % of one core
} lj_sampler_stats;

/// Fills `c` with the defaults listed in ::lj_sampler_config.
void lj_sampler_config_default(lj_sampler_config *c);
/// Creates a sampler on `src` (not started). The sampler does not own the
/// source; the source must outlive it.
/// @param out the sampler; free with lj_sampler_free()
/// @param src an open source
/// @param cfg settings, NULL = defaults
/// @return 0, ::LJ_EINVAL or ::LJ_ENOMEM
int lj_sampler_create(lj_sampler **out, lj_source *src, const lj_sampler_config *cfg);
/// Frees a sampler (NULL is allowed); stops it first if running.
void lj_sampler_free(lj_sampler *s);

/// Threaded mode: per device one counter thread and one fields+drain thread,
/// plus one delivery thread. Each device's threads keep their own schedule, so
/// the devices' counters are read side by side, not in turn (one read costs
/// ~4 ms: 8 GPUs read in turn would put 30 ms between the first and the last),
/// and a window boundary wakes every device's counter thread at once. Returns once every thread has read once, so a
/// window begun right after it has readings before its begin.
/// @return 0 or a negative ::lj_status (threads could not start)
int lj_sampler_start(lj_sampler *s);
/// Joins the threads, drains the source one last time, delivers everything,
/// finishes the windows. Idempotent.
/// @return 0, or a negative ::lj_status when the sink failed (samples after
///         its failure were not delivered to it)
int lj_sampler_stop(lj_sampler *s);

/// Manual mode (no threads): does every read/drain/delivery due at `now_ns`
/// (on a replay source the clock is set to now_ns first). Deterministic.
int lj_sampler_poll(lj_sampler *s, int64_t now_ns);

/// The source's clock (manual mode: the last poll time).
int64_t lj_sampler_now(lj_sampler *s);
/// The windows the sampler feeds (begin/end on them at explicit times).
lj_windows *lj_sampler_windows(lj_sampler *s);
/// Fills `out` with the sampler's counters and CPU cost so far.
void lj_sampler_stats_get(lj_sampler *s, lj_sampler_stats *out);

/// Begins a window called `name` at the sampler's clock ("now") and wakes the
/// counter thread for a boundary read.
/// @return the window's handle (>= 0), or a negative ::lj_status
int lj_meter_begin(lj_sampler *s, const char *name);
/// Ends the most recently begun open window called `name` at the sampler's clock.
/// @return its handle, or ::LJ_EINVAL when none is open
int lj_meter_end(lj_sampler *s, const char *name);
/// Ends window `handle` at the sampler's clock. @return 0 or ::LJ_EINVAL
int lj_meter_end_handle(lj_sampler *s, int handle);
/// Asks for an energy-counter read at once (threads: the counter threads are
/// woken; manual mode: read now, at the last poll time). Window begins and
/// ends on lj_sampler_windows() do this by themselves.
void lj_sampler_read_counter_now(lj_sampler *s);
/// Waits (threaded mode) until the window is no longer ::LJ_WINDOW_PENDING,
/// that is until readings after its end have arrived, then fills the result.
/// @param s the sampler
/// @param handle the window
/// @param device a device index, or -1 for the sum over devices
/// @param out the result (still PENDING if the wait timed out: check flags)
/// @param timeout_ns the longest wait, ns
/// @return 0 or ::LJ_EINVAL
int lj_meter_result(lj_sampler *s, int handle, int device, lj_window_result *out, int64_t timeout_ns);

/// A window boundary shared by several threads (opaque): one thread per GPU of a
/// tensor-parallel run, on one sampler that reads every GPU.
typedef struct lj_meter_barrier lj_meter_barrier;
/// Creates a barrier for `n_threads` threads on sampler `s` (which must outlive it).
/// @param out the barrier; free with lj_meter_barrier_free()
/// @param s the sampler whose windows and clock it uses
/// @param n_threads threads that arrive at every boundary (one per GPU)
/// @return 0, ::LJ_EINVAL (n_threads < 1) or ::LJ_ENOMEM
int lj_meter_barrier_create(lj_meter_barrier **out, lj_sampler *s, int n_threads);
/// Frees a barrier (NULL is allowed); no thread may be waiting in it.
void lj_meter_barrier_free(lj_meter_barrier *b);
/// Each of the n threads calls it once its GPU's stream is synchronised
/// (cudaStreamSynchronize); it returns when all have. The last to arrive
/// begins window `name` at its arrival time on the sampler's clock: one
/// timestamp for every device, after the work of every GPU before it. Every
/// device's counter thread is woken for a boundary read at once.
/// @param b the barrier
/// @param name the window's name
/// @param t_ns set to the window's begin (NULL: not wanted)
/// @return the window's handle (the same in every thread), or a negative ::lj_status (in every thread)
int lj_meter_barrier_begin(lj_meter_barrier *b, const char *name, int64_t *t_ns);
/// The same for the end of window `handle` (every thread passes the same handle).
/// @param b the barrier
/// @param handle the window (lj_meter_barrier_begin()'s return)
/// @param t_ns set to the window's end (NULL: not wanted)
/// @return 0, or a negative ::lj_status in every thread
int lj_meter_barrier_end(lj_meter_barrier *b, int handle, int64_t *t_ns);

// ---------------------------------------------------------------- idle baseline

/// An idle baseline: the power of a device doing nothing, measured two ways.
typedef struct {
  int device;                ///< device index
  double seconds;            ///< length of the measurement
  double counter_mean_w;     ///< counter delta / time
  double counter_stddev_w;   ///< over the counter's update intervals
  double sample_mean_w;      ///< mean of the power samples (driver buffer, else instant)
  double sample_stddev_w;    ///< their standard deviation
  int n_counter_updates;     ///< counter value changes seen
  int n_samples;             ///< power samples seen
  double mean_w;             ///< the baseline to use: counter_mean_w when known, else sample_mean_w
  double temperature_c;      ///< mean GPU temperature during the measurement (0 when unknown)
  int64_t begin_ns;          ///< begin, on the source's clock
  int64_t end_ns;            ///< end
} lj_idle_result;

/// Measures idle power of device `dev` for `seconds` on an already open
/// source (the caller opens a CUDA context first, so the GPU idles as it does
/// under a program). Blocks for `seconds`.
/// @return 0; ::LJ_EINVAL for a bad device or `seconds` outside (0, 3600];
///         ::LJ_EUNSUPPORTED when no counter update and no power sample came
int lj_measure_idle(lj_source *src, int dev, double seconds, lj_idle_result *out);
/// The same from recorded samples (replay, tests): the samples of `dev` in [begin, end].
/// @param s the samples (any devices, time order)
/// @param n how many
/// @param dev the device
/// @param begin_ns start of the idle interval
/// @param end_ns its end
/// @param out the baseline
/// @return 0, or ::LJ_EUNSUPPORTED when no counter or power sample lies in the interval
int lj_idle_from_samples(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                         lj_idle_result *out);

/// lj_measure_idle() that also appends the measurement's samples of `dev` to `keep`
/// (NULL: not kept), for lj_idle_curve_fit().
int lj_measure_idle_kept(lj_source *src, int dev, double seconds, lj_trace *keep, lj_idle_result *out);
/// Idle power of several devices at once, over the same `seconds` (a tensor-parallel run's GPUs:
/// each GPU's own baseline, as leakage differs card to card), each read on its own threads.
/// Appends the samples of every device to `keep` (NULL: not kept); fit each device's idle curve
/// from them with lj_idle_curve_fit(..., dev, ...).
/// @param src an open source
/// @param devs device indices (distinct, < 64)
/// @param n_devs how many
/// @param seconds length of the measurement, (0, 3600]
/// @param keep receives every measured device's samples (NULL: not kept)
/// @param out room for n_devs results, in the order of `devs`
/// @return 0; ::LJ_EINVAL for a bad or repeated device or `seconds`; as lj_measure_idle()
int lj_measure_idle_devices(lj_source *src, const int *devs, int n_devs, double seconds, lj_trace *keep,
                            lj_idle_result *out);

/// Idle power against temperature: P_idle(T) = a_w + slope_w_per_c x (T - t0_c), fitted by
/// ordinary least squares over the idle power samples binned by whole degrees (one point per
/// bin: its mean temperature and mean power), from a cool start-of-run idle and a warm
/// cool-down at the end. Leakage rises with temperature; a flat baseline counts it as dynamic.
typedef struct {
  double t0_c;               ///< reference temperature (the start-of-run idle's mean)
  double a_w;                ///< idle power at t0_c
  double a_se_w;             ///< its standard error (df = n_bins - 2; not stored: the budget's idle term uses it)
  double slope_w_per_c;      ///< W per degree C
  double slope_se_w_per_c;   ///< its standard error (df = n_bins - 2)
  double slope_lo;           ///< its interval at `level`: lower end
  double slope_hi;           ///< upper end
  double r2;                 ///< of the fit over the bins
  double t_min_c;            ///< the bins' lowest mean temperature
  double t_max_c;            ///< the bins' highest mean temperature
  int n_bins;                ///< whole-degree bins with samples
  int n_samples;             ///< power samples used
  int usable;                ///< 1: subtract idle at each window's temperature; 0: keep the flat idle (why)
  char why[96];              ///< why not usable ("" when usable)
} lj_idle_curve;

/// Narrowest temperature range a curve is fitted over (C).
#define LJ_IDLE_CURVE_MIN_RANGE_C 3.0

/// Fits the curve from samples `s` (n, time order, any readings and devices; the power
/// samples of `dev`, else its instant power, each at the latest temperature reading before
/// it). Not usable (a fit may still be reported) when the range is below
/// LJ_IDLE_CURVE_MIN_RANGE_C, fewer than 3 bins, or the fit is poor: r2 below 0.5 or a
/// slope interval that holds 0 or lies below it.
/// @return 0, or ::LJ_EINVAL for a level outside (0, 1)
int lj_idle_curve_fit(const lj_sample *s, size_t n, int dev, double t0_c, double level, lj_idle_curve *out);

/// Idle power at temperature t_c: the curve where usable and t_c is known, else `flat_w`.
double lj_idle_curve_at(const lj_idle_curve *c, double t_c, double flat_w);

#ifdef __cplusplus
}
#endif
