#include "common/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/temp_files.h"

// Why `f` failed, 0 if it did not: fflush's errno, else (a write failed earlier, the buffer
// it held dropped, and the writer stopped) the errno that write left, which stdio keeps nowhere else.
static int stream_errno(FILE *f) {
  int earlier = errno;
  if (fflush(f) != 0) return errno ? errno : EIO;
  return !ferror(f) ? 0 : earlier ? earlier : EIO;
}

int lj_stdout_check(void) {
  int e = stream_errno(stdout);
  return e ? LJ_FAIL(LJ_EIO, "cannot write standard output: %s", strerror(e)) : LJ_OK;
}

static int fail_errno(const char *name, int e) {
  return LJ_FAIL(e == EACCES || e == EPERM ? LJ_EPERM : LJ_EIO, "cannot write '%s': %s", name, strerror(e));
}

// Devices and FIFOs, a dangling symbolic link (its target is created): opened as they are.
static int open_in_place(lj_output *o, const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return fail_errno(o->name, errno);
  if (!(o->f = fdopen(fd, "w"))) {
    int e = errno;
    close(fd);
    return fail_errno(o->name, e);
  }
  return LJ_OK;
}

int lj_output_open(lj_output *o, const char *path) {
  memset(o, 0, sizeof *o);
  o->name = path;
  o->slot = -1;
  struct stat st, out;
  int exists = stat(path, &st) == 0;
  if (!strcmp(path, "-") ||
      (exists && fstat(STDOUT_FILENO, &out) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino)) {
    o->f = stdout, o->is_stdout = 1;
    return LJ_OK;
  }
  if (exists && S_ISDIR(st.st_mode)) return fail_errno(path, EISDIR);
  if (exists && !S_ISREG(st.st_mode)) return open_in_place(o, path);
  struct stat link;
  if (!exists && lstat(path, &link) == 0 && S_ISLNK(link.st_mode)) return open_in_place(o, path);
  if (exists ? !realpath(path, o->target) : (size_t)snprintf(o->target, sizeof o->target, "%s", path) >= sizeof o->target)
    return fail_errno(path, exists ? errno : ENAMETOOLONG);
  if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", o->target) >= sizeof o->tmp)
    return fail_errno(path, ENAMETOOLONG);
  int fd = lj_temp_create(o->tmp, &o->slot);
  if (fd < 0) {
    o->tmp[0] = '\0';
    return fail_errno(path, errno);
  }
  // mkstemp makes 0600: the file replaced keeps its mode, a new one gets the usual 0666 less the umask.
  mode_t mode = exists ? st.st_mode & 07777 : 0;
  if (!exists) {
    mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
    int e = errno;
    close(fd);
    lj_output_discard(o);
    return fail_errno(path, e);
  }
  return LJ_OK;
}

int lj_output_finish(lj_output *o, int rc) {
  if (!o->f) return rc;
  if (o->is_stdout) {
    o->f = NULL;
    int out = lj_stdout_check();  // its reason says more than the writer's own failure
    return out < 0 ? out : rc;
  }
  int e = stream_errno(o->f);
  if (!e && o->tmp[0] && fsync(fileno(o->f)) != 0) e = errno;
  if (fclose(o->f) != 0 && !e) e = errno ? errno : EIO;
  o->f = NULL;
  if (e) rc = fail_errno(o->name, e);  // the file's reason, not only the writer's "failed"
  if (rc < 0) lj_output_discard(o);
  return rc;
}

int lj_output_commit(lj_output *o) {
  if (!o->tmp[0]) return LJ_OK;
  if (rename(o->tmp, o->target) != 0) {
    int e = errno;
    lj_output_discard(o);
    return fail_errno(o->name, e);
  }
  lj_temp_forget(o->slot);
  o->tmp[0] = '\0';
  return LJ_OK;
}

void lj_output_discard(lj_output *o) {
  if (o->f && !o->is_stdout) fclose(o->f);
  o->f = NULL;
  if (!o->tmp[0]) return;
  unlink(o->tmp);
  lj_temp_forget(o->slot);
  o->tmp[0] = '\0';
}

int lj_output_close(lj_output *o, int rc) {
  rc = lj_output_finish(o, rc);
  return rc < 0 ? rc : lj_output_commit(o);
}
