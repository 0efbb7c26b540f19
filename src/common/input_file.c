#include "common/input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

int lj_open_input(const char *path, int missing_code) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    int code = e == ENOENT ? missing_code : e == EACCES ? LJ_EPERM : LJ_EIO;
    return LJ_FAIL(code, "%s: cannot open: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return LJ_FAIL(LJ_EIO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return LJ_FAIL(LJ_EINVAL, "%s: %s", path,
                   S_ISDIR(st.st_mode) ? "is a directory, not a file"
                                       : "is not a regular file (a FIFO, socket or device); give a file");
  }
  int flags = fcntl(fd, F_GETFL);  // reads of a regular file never block; back to the usual mode
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

FILE *lj_fopen_input(const char *path, int missing_code, int *rc) {
  int fd = lj_open_input(path, missing_code);
  *rc = fd < 0 ? fd : 0;
  if (fd < 0) return NULL;
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    int e = errno;
    close(fd);
    *rc = LJ_FAIL(LJ_ENOMEM, "%s: cannot open: %s", path, strerror(e));
  }
  return fp;
}
