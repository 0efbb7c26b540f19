// Files built into the program for the HTML pages: Apache ECharts (npm,
// pinned in package.json) and the page's own script and style. Each is a
// NUL-terminated string; ECharts is "" in a build made without node_modules.
#pragma once

extern const char lj_asset_echarts_js[];
extern const char lj_asset_report_js[];
extern const char lj_asset_report_css[];
const char *lj_asset_echarts_version(void);  // "6.1.0", or "" when not built in
