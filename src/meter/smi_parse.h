// Parsing one line of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`.
// A pure function of the layout and the line, so it can be unit-tested on
// recorded lines and fuzzed. "[N/A]", "[Not Supported]" and any other
// bracketed word mean "no value" for that column.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"

typedef enum {
  LJ_SMI_TIMESTAMP = 0,  // "2026/11/24 18:33:39.123" (local time)
  LJ_SMI_INDEX,
  LJ_SMI_UUID,
  LJ_SMI_PCI_BUS_ID,
  LJ_SMI_READING,        // a number (hex "0x..." for the throttle mask) in the reading's unit
} lj_smi_column_kind;

#define LJ_SMI_MAX_COLUMNS 16

typedef struct {
  int n;
  const char *query[LJ_SMI_MAX_COLUMNS];  // nvidia-smi field names
  int kind[LJ_SMI_MAX_COLUMNS];           // lj_smi_column_kind
  int reading[LJ_SMI_MAX_COLUMNS];        // lj_reading for LJ_SMI_READING
} lj_smi_layout;

// Current drivers (power.draw.instant/average, clocks_event_reasons).
const lj_smi_layout *lj_smi_layout_default(void);
// Older drivers: power.draw and clocks_throttle_reasons only.
const lj_smi_layout *lj_smi_layout_legacy(void);
// "timestamp,index,..." for --query-gpu=
void lj_smi_query_string(const lj_smi_layout *l, char *out, size_t cap);

typedef struct {
  int64_t local_us;        // timestamp as microseconds since the epoch, read as if UTC (local time)
  int index;
  char uuid[96];
  char pci_bus_id[32];
  double value[LJ_READING_COUNT];
  uint32_t present;        // LJ_READING_BIT of each reading that had a value
} lj_smi_record;

// 0, or LJ_EINVAL with "<name>:<line>:<column>: what was expected".
int lj_smi_parse_line(const lj_smi_layout *l, const char *line, size_t len, const char *name, int line_no,
                      lj_smi_record *out);
