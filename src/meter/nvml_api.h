// The few NVML types and functions llamajoule uses, declared here (nvml.h
// is not on every build machine) and loaded at run time with dlopen, so the
// program builds anywhere and says clearly when no driver is present.
// Layouts and values as in nvml.h (CUDA 13.0).
#pragma once
#include <stdint.h>

#include "llamajoule/meter.h"

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_LIBRARY_NOT_FOUND = 12,
  NVML_ERROR_FUNCTION_NOT_FOUND = 13,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_GPU_NOT_FOUND = 28,
  NVML_ERROR_UNKNOWN = 999,
};

// nvmlValueType_t
enum {
  NVML_VALUE_TYPE_DOUBLE = 0,
  NVML_VALUE_TYPE_UNSIGNED_INT = 1,
  NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
  NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
  NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
  NVML_VALUE_TYPE_SIGNED_INT = 5,
  NVML_VALUE_TYPE_UNSIGNED_SHORT = 6,
};

enum {
  NVML_FI_DEV_POWER_AVERAGE = 185,  // 1 s average, mW
  NVML_FI_DEV_POWER_INSTANT = 186,  // mW
  NVML_POWER_SCOPE_GPU = 0,
  NVML_POWER_SCOPE_MODULE = 1,
  NVML_POWER_SCOPE_MEMORY = 2,
  NVML_TOTAL_POWER_SAMPLES = 0,     // nvmlSamplingType_t
  NVML_CLOCK_SM = 1,                // nvmlClockType_t
  NVML_CLOCK_MEM = 2,
  NVML_TEMPERATURE_GPU = 0,
  NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96,
  NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96,
  NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80,
  NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE = 80,
};

typedef union {
  double dVal;
  int siVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  signed long long sllVal;
  unsigned short usVal;
} nvmlValue_t;

typedef struct {
  unsigned int fieldId;
  unsigned int scopeId;
  long long timestamp;    // us since the Unix epoch
  long long latencyUsec;
  int valueType;          // nvmlValueType_t
  nvmlReturn_t nvmlReturn;
  nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct {
  unsigned long long timeStamp;  // us since the Unix epoch
  nvmlValue_t sampleValue;
} nvmlSample_t;

typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

typedef struct {
  unsigned int gpu, memory;  // %
} nvmlUtilization_t;

// Every function the source calls; NULL when the library lacks it (an older
// driver): the readings that need it are then unsupported.
typedef struct {
  void *dl;  // dlopen handle (NULL for a table filled by hand, in tests)
  nvmlReturn_t (*Init_v2)(void);
  nvmlReturn_t (*Shutdown)(void);
  const char *(*ErrorString)(nvmlReturn_t);
  nvmlReturn_t (*SystemGetDriverVersion)(char *, unsigned int);
  nvmlReturn_t (*SystemGetNVMLVersion)(char *, unsigned int);
  nvmlReturn_t (*DeviceGetCount_v2)(unsigned int *);
  nvmlReturn_t (*DeviceGetHandleByIndex_v2)(unsigned int, nvmlDevice_t *);
  nvmlReturn_t (*DeviceGetHandleByUUID)(const char *, nvmlDevice_t *);
  nvmlReturn_t (*DeviceGetDeviceHandleFromMigDeviceHandle)(nvmlDevice_t, nvmlDevice_t *);
  nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char *, unsigned int);
  nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t, char *, unsigned int);
  nvmlReturn_t (*DeviceGetPciInfo_v3)(nvmlDevice_t, nvmlPciInfo_t *);
  nvmlReturn_t (*DeviceGetTotalEnergyConsumption)(nvmlDevice_t, unsigned long long *);
  nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned int *);
  nvmlReturn_t (*DeviceGetFieldValues)(nvmlDevice_t, int, nvmlFieldValue_t *);
  nvmlReturn_t (*DeviceGetSamples)(nvmlDevice_t, int, unsigned long long, int *, unsigned int *, nvmlSample_t *);
  nvmlReturn_t (*DeviceGetClockInfo)(nvmlDevice_t, int, unsigned int *);
  nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, int, unsigned int *);
  nvmlReturn_t (*DeviceGetCurrentClocksEventReasons)(nvmlDevice_t, unsigned long long *);
  nvmlReturn_t (*DeviceGetCurrentClocksThrottleReasons)(nvmlDevice_t, unsigned long long *);
  nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t *);
  nvmlReturn_t (*DeviceGetEnforcedPowerLimit)(nvmlDevice_t, unsigned int *);
} lj_nvml_api;

// dlopen(library or "libnvidia-ml.so.1") and look up every symbol.
// LJ_ENODEV with "libnvidia-ml.so.1 was not found (no NVIDIA driver)".
int lj_nvml_api_load(lj_nvml_api *api, const char *library);
void lj_nvml_api_unload(lj_nvml_api *api);

// Opens the NVML source on an already loaded (or hand-filled) table; the
// source takes the table over (unloads it on close).
int lj_source_open_nvml_api(lj_source **out, const lj_nvml_api *api, const lj_nvml_options *opt);

// Maps an NVML return code to an lj_status and records "what: NVML error
// string" with the caller's file and line.
int lj_nvml_fail(const lj_nvml_api *api, nvmlReturn_t ret, const char *file, int line, const char *what);
#define NVML_CHECK(api, expr, what)                                          \
  do {                                                                      \
    nvmlReturn_t nvml_rc_ = (expr);                                         \
    if (nvml_rc_ != NVML_SUCCESS) return lj_nvml_fail((api), nvml_rc_, __FILE__, __LINE__, (what)); \
  } while (0)
