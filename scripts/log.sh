# Logging helpers for the scripts (sourced). They write to the inherited
# stderr descriptor, never to /dev/stderr by name: opening that path reopens
# the file behind it, and `tee /dev/stderr` truncates it, so `script > log 2>&1`
# lost everything printed before.

# A step heading on stderr.
step() { printf '\n== %s\n' "$*" >&2; }

# Prints its arguments as one line on stderr (for the log) and on stdout (for the next command).
show() {
  printf '%s\n' "$*" >&2
  printf '%s\n' "$*"
}
