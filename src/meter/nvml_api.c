#include "meter/nvml_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "llamajoule/meter.h"

// dlsym returns void *; going through a union avoids the ISO C object/function pointer cast warning.
static void *sym(void *dl, const char *name) { return dlsym(dl, name); }
#define LOAD(field, name)                              \
  do {                                                 \
    void *p_ = sym(api->dl, name);                     \
    memcpy(&api->field, &p_, sizeof p_);               \
  } while (0)

int lj_nvml_api_load(lj_nvml_api *api, const char *library) {
  memset(api, 0, sizeof *api);
  const char *lib = library ? library : "libnvidia-ml.so.1";
  api->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!api->dl) {
    const char *why = dlerror();
    return LJ_FAIL(LJ_ENODEV, "%s was not found (no NVIDIA driver): %s", lib, why ? why : "dlopen failed");
  }
  LOAD(Init_v2, "nvmlInit_v2");
  LOAD(Shutdown, "nvmlShutdown");
  LOAD(ErrorString, "nvmlErrorString");
  LOAD(SystemGetDriverVersion, "nvmlSystemGetDriverVersion");
  LOAD(SystemGetNVMLVersion, "nvmlSystemGetNVMLVersion");
  LOAD(DeviceGetCount_v2, "nvmlDeviceGetCount_v2");
  LOAD(DeviceGetHandleByIndex_v2, "nvmlDeviceGetHandleByIndex_v2");
  LOAD(DeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID");
  LOAD(DeviceGetDeviceHandleFromMigDeviceHandle, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle");
  LOAD(DeviceGetName, "nvmlDeviceGetName");
  LOAD(DeviceGetUUID, "nvmlDeviceGetUUID");
  LOAD(DeviceGetPciInfo_v3, "nvmlDeviceGetPciInfo_v3");
  LOAD(DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption");
  LOAD(DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage");
  LOAD(DeviceGetFieldValues, "nvmlDeviceGetFieldValues");
  LOAD(DeviceGetSamples, "nvmlDeviceGetSamples");
  LOAD(DeviceGetClockInfo, "nvmlDeviceGetClockInfo");
  LOAD(DeviceGetTemperature, "nvmlDeviceGetTemperature");
  LOAD(DeviceGetCurrentClocksEventReasons, "nvmlDeviceGetCurrentClocksEventReasons");
  LOAD(DeviceGetCurrentClocksThrottleReasons, "nvmlDeviceGetCurrentClocksThrottleReasons");
  LOAD(DeviceGetUtilizationRates, "nvmlDeviceGetUtilizationRates");
  LOAD(DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit");
  if (!api->Init_v2 || !api->Shutdown || !api->DeviceGetCount_v2 || !api->DeviceGetHandleByIndex_v2) {
    lj_nvml_api_unload(api);
    return LJ_FAIL(LJ_ENODEV, "%s lacks nvmlInit_v2/nvmlDeviceGetCount_v2: NVIDIA driver too old", lib);
  }
  return 0;
}

void lj_nvml_api_unload(lj_nvml_api *api) {
  if (api->dl) dlclose(api->dl);
  memset(api, 0, sizeof *api);
}

int lj_nvml_fail(const lj_nvml_api *api, nvmlReturn_t ret, const char *file, int line, const char *what) {
  const char *msg = api->ErrorString ? api->ErrorString(ret) : NULL;
  int code;
  switch (ret) {
    case NVML_ERROR_NO_PERMISSION: code = LJ_EPERM; break;
    case NVML_ERROR_NOT_SUPPORTED:
    case NVML_ERROR_FUNCTION_NOT_FOUND: code = LJ_EUNSUPPORTED; break;
    case NVML_ERROR_DRIVER_NOT_LOADED:
    case NVML_ERROR_LIBRARY_NOT_FOUND:
    case NVML_ERROR_GPU_IS_LOST:
    case NVML_ERROR_GPU_NOT_FOUND: code = LJ_ENODEV; break;
    default: code = LJ_EIO; break;
  }
  return lj_fail(code, file, line, "%s: %s (NVML error %d)", what, msg ? msg : "unknown error", ret);
}
