// Files written through common/output_file.h: a SIGINT in the middle of a write
// removes the temporary and still ends the process by the signal; a writer that
// fails leaves the file it would have replaced as it was; a complete write
// replaces it keeping its mode, and nothing but the file is left in the folder.
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/output_file.h"

// A fresh folder holding one file, `name`, that reads "old".
typedef struct {
  char dir[512], path[600];
} scratch;

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void scratch_make(scratch *s, const char *name) {
  const char *root = getenv("TMPDIR");
  snprintf(s->dir, sizeof s->dir, "%s/lj_output_file_XXXXXX", root && *root ? root : P_tmpdir);
  assert_non_null(mkdtemp(s->dir));
  snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
  write_text(s->path, "old");
}

static void scratch_remove(scratch *s) {
  unlink(s->path);
  assert_int_equal(rmdir(s->dir), 0);  // nothing else was left in it
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void assert_text(const char *path, const char *want) {
  char got[64] = "";
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(got, 1, sizeof got - 1, f);
  got[n] = '\0';
  fclose(f);
  assert_string_equal(got, want);
}

static void test_interrupt_removes_the_temporary(void **state) {
  (void)state;
  scratch sc;
  scratch_make(&sc, "page.html");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    lj_output o;
    if (lj_output_open(&o, sc.path) != 0 || fputs("half a pa", o.f) < 0 || fflush(o.f) != 0) _exit(3);
    raise(SIGINT);
    _exit(4);  // not reached: the signal ends the process
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGINT);
  assert_int_equal(entries(sc.dir), 1);  // page.html alone: the temporary is gone
  assert_text(sc.path, "old");
  scratch_remove(&sc);
}

static void test_failed_writer_keeps_the_file(void **state) {
  (void)state;
  scratch sc;
  scratch_make(&sc, "out.csv");
  lj_output o;
  assert_int_equal(lj_output_open(&o, sc.path), 0);
  fputs("new", o.f);
  assert_int_equal(lj_output_close(&o, LJ_FAIL(LJ_EINVAL, "the writer failed")), LJ_EINVAL);
  assert_text(sc.path, "old");
  assert_int_equal(entries(sc.dir), 1);
  scratch_remove(&sc);
}

static void test_complete_write_replaces_keeping_the_mode(void **state) {
  (void)state;
  scratch sc;
  scratch_make(&sc, "out.json");
  assert_int_equal(chmod(sc.path, 0640), 0);
  lj_output o;
  assert_int_equal(lj_output_open(&o, sc.path), 0);
  assert_false(o.is_stdout);
  fputs("new", o.f);
  assert_text(sc.path, "old");  // not replaced before it is complete
  assert_int_equal(lj_output_close(&o, 0), 0);
  assert_text(sc.path, "new");
  struct stat st;
  assert_int_equal(stat(sc.path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0640);
  assert_int_equal(entries(sc.dir), 1);
  scratch_remove(&sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interrupt_removes_the_temporary),
      cmocka_unit_test(test_failed_writer_keeps_the_file),
      cmocka_unit_test(test_complete_write_replaces_keeping_the_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
