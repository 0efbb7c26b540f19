// The page assets, embedded at build time with the assembler's .incbin (no
// generated sources; CMake passes the paths and rebuilds this file when one
// of them changes). A report then needs nothing beside the binary.
#include "report/report_assets.h"

#define LJ_STR2(x) #x
#define LJ_STR(x) LJ_STR2(x)
#define LJ_INCBIN(sym, path)                                                             \
  __asm__(".section .rodata\n.global " #sym "\n.hidden " #sym "\n.balign 16\n" #sym ":\n" \
          ".incbin \"" path "\"\n.byte 0\n.previous\n")

LJ_INCBIN(lj_asset_report_js, LJ_REPORT_JS);
LJ_INCBIN(lj_asset_report_css, LJ_REPORT_CSS);
#ifdef LJ_ECHARTS_JS
LJ_INCBIN(lj_asset_echarts_js, LJ_ECHARTS_JS);
const char *lj_asset_echarts_version(void) { return LJ_ECHARTS_VERSION; }
#else
const char lj_asset_echarts_js[] = "";
const char *lj_asset_echarts_version(void) { return ""; }
#endif
