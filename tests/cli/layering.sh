#!/usr/bin/env bash
# The folders follow the data flow (docs/architecture.md): no include runs
# back up it. store/ owns the run model and includes neither the profiler,
# the engine nor the meter's internals; report/ reads the store only; common/
# includes nothing but common/, the build configuration and the public status codes
# (llamajoule/error.h, which another program's code uses too).
#   bash tests/cli/layering.sh [path/to/llamajoule]   (the binary is not used)
set -u
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
bad=0
check() {  # folder, allowed include prefixes (regex)
  local dir=$1 allowed=$2 hits
  hits=$(grep -rn '^#include "' "src/$dir" | grep -vE "#include \"($allowed)" || true)
  if [[ -n $hits ]]; then
    echo "FAIL: src/$dir includes what it must not:"; echo "$hits"; bad=1
  else
    echo "ok: src/$dir includes only $allowed"
  fi
}
check common 'common/|build_config.h|llamajoule/error.h'
check store 'common/|store/|model/config.h|llamajoule/|build_config.h'
check report 'common/|store/|report/|model/config.h|llamajoule/|build_config.h'
exit $bad
