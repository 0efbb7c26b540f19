#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/input_file.h"
#include "model/map_guard.h"

enum { HEADER_MAX = 100 * 1024 * 1024 };  // the format's own limit

static int parse_dtype(const char *s, lj_dtype *out) {
  if (!strcmp(s, "F32")) *out = LJ_DTYPE_F32;
  else if (!strcmp(s, "F16")) *out = LJ_DTYPE_F16;
  else if (!strcmp(s, "BF16")) *out = LJ_DTYPE_BF16;
  else if (!strcmp(s, "F8_E4M3")) *out = LJ_DTYPE_F8_E4M3;
  else return -1;
  return 0;
}

static int by_begin(const void *a, const void *b) {
  const lj_st_tensor *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static void free_tensors(lj_st_file *f) {
  for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
  free(f->tensors);
  f->tensors = NULL;
  f->n_tensors = 0;
}

static int parse_entry(const char *origin, const char *key, json_t *v, uint64_t data_size, lj_st_tensor *t) {
  if (!json_is_object(v)) return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': header entry is not an object", origin, key);
  json_t *dtype = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
         *offs = json_object_get(v, "data_offsets");
  if (!json_is_string(dtype)) return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': 'dtype' missing or not a string", origin, key);
  if (parse_dtype(json_string_value(dtype), &t->dtype))
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': dtype '%s' is not supported (F32, F16, BF16, F8_E4M3)", origin, key,
                   json_string_value(dtype));
  if (!json_is_array(shape)) return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': 'shape' missing or not an array", origin, key);
  if (json_array_size(shape) > LJ_ST_MAX_DIMS)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': %zu dimensions (at most %d)", origin, key, json_array_size(shape),
                   LJ_ST_MAX_DIMS);
  t->ndim = (int)json_array_size(shape);
  uint64_t numel = 1;
  for (int d = 0; d < t->ndim; d++) {
    json_t *e = json_array_get(shape, (size_t)d);
    if (!json_is_integer(e) || json_integer_value(e) < 0)
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': shape[%d] is not a non-negative integer", origin, key, d);
    uint64_t n = (uint64_t)json_integer_value(e);
    t->shape[d] = (int64_t)n;
    if (n != 0 && numel > (UINT64_MAX / 4) / n)
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': shape too large", origin, key);
    numel *= n;
  }
  if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
      !json_is_integer(json_array_get(offs, 1)))
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': 'data_offsets' must be [begin, end] integers", origin, key);
  json_int_t b = json_integer_value(json_array_get(offs, 0)), e = json_integer_value(json_array_get(offs, 1));
  if (b < 0 || e < b)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': data_offsets [%lld, %lld] are not 0 <= begin <= end", origin, key,
                   (long long)b, (long long)e);
  t->begin = (uint64_t)b;
  t->end = (uint64_t)e;
  if (t->end > data_size)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section (%llu bytes)",
                   origin, key, (unsigned long long)t->begin, (unsigned long long)t->end,
                   (unsigned long long)data_size);
  uint64_t want = numel * lj_dtype_size(t->dtype);
  if (t->end - t->begin != want)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': data_offsets span %llu bytes but shape x %s needs %llu", origin, key,
                   (unsigned long long)(t->end - t->begin), lj_dtype_name(t->dtype), (unsigned long long)want);
  return LJ_OK;
}

int lj_st_parse(const uint8_t *buf, size_t size, const char *origin, lj_st_file *out) {
  memset(out, 0, sizeof *out);
  if (size < 8) return LJ_FAIL(LJ_EINVAL, "%s: %zu bytes, too short for a safetensors header", origin, size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
  if (n > size - 8)
    return LJ_FAIL(LJ_EINVAL, "%s: header length %llu goes beyond the end of the file (%zu bytes)", origin,
                   (unsigned long long)n, size);
  if (n > HEADER_MAX) return LJ_FAIL(LJ_EINVAL, "%s: header length %llu exceeds 100 MB", origin, (unsigned long long)n);
  const uint8_t *data = buf + 8 + n;
  uint64_t data_size = size - 8 - n;
  json_error_t jerr;
  json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) return LJ_FAIL(LJ_EINVAL, "%s: header JSON, byte %d: %s", origin, 8 + jerr.position, jerr.text);
  int rc = LJ_OK;
  if (!json_is_object(root)) {
    rc = LJ_FAIL(LJ_EINVAL, "%s: header is not a JSON object", origin);
    goto done;
  }
  out->tensors = calloc(json_object_size(root) + 1, sizeof *out->tensors);
  if (!out->tensors) {
    rc = LJ_FAIL(LJ_ENOMEM, "%s: out of memory reading the header", origin);
    goto done;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    if (!strcmp(key, "__metadata__")) {
      if (!json_is_object(v)) {
        rc = LJ_FAIL(LJ_EINVAL, "%s: '__metadata__' must be an object of strings", origin);
        goto done;
      }
      continue;
    }
    lj_st_tensor *t = &out->tensors[out->n_tensors];
    rc = parse_entry(origin, key, v, data_size, t);
    if (rc < 0) goto done;
    if ((uintptr_t)(data + t->begin) % lj_dtype_size(t->dtype) != 0) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: tensor '%s': data at byte %llu is not aligned to its %s elements", origin, key,
                   (unsigned long long)(8 + n + t->begin), lj_dtype_name(t->dtype));
      goto done;
    }
    t->name = strdup(key);
    if (!t->name) {
      rc = LJ_FAIL(LJ_ENOMEM, "%s: out of memory", origin);
      goto done;
    }
    t->data = data + t->begin;
    out->n_tensors++;
  }
  // Overlaps: sorted by begin, each tensor must start at or after the previous end.
  lj_st_tensor *sorted = malloc(((size_t)out->n_tensors + 1) * sizeof *sorted);
  if (!sorted) {
    rc = LJ_FAIL(LJ_ENOMEM, "%s: out of memory", origin);
    goto done;
  }
  memcpy(sorted, out->tensors, (size_t)out->n_tensors * sizeof *sorted);
  qsort(sorted, (size_t)out->n_tensors, sizeof *sorted, by_begin);
  int last = -1;  // the non-empty tensor reaching furthest so far
  for (int i = 0; i < out->n_tensors && rc == LJ_OK; i++) {
    if (sorted[i].end == sorted[i].begin) continue;
    if (last >= 0 && sorted[i].begin < sorted[last].end)
      rc = LJ_FAIL(LJ_EINVAL, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", origin,
                   sorted[last].name, (unsigned long long)sorted[last].begin, (unsigned long long)sorted[last].end,
                   sorted[i].name, (unsigned long long)sorted[i].begin, (unsigned long long)sorted[i].end);
    if (last < 0 || sorted[i].end > sorted[last].end) last = i;
  }
  free(sorted);
done:
  json_decref(root);
  if (rc < 0) free_tensors(out);
  return rc;
}

int lj_st_open(const char *path, lj_st_file *out) {
  memset(out, 0, sizeof *out);
  int fd = lj_open_input(path, LJ_EINVAL);  // a missing shard is bad input (exit 3)
  if (fd < 0) return fd;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return LJ_FAIL(LJ_EIO, "%s: cannot stat: %s", path, strerror(e));
  }
  size_t size = (size_t)st.st_size;
  void *map = NULL;
  if (size > 0) {
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int e = errno;
      close(fd);
      return LJ_FAIL(LJ_EIO, "%s: mmap of %zu bytes failed: %s", path, size, strerror(e));
    }
  }
  close(fd);
  int rc = map ? lj_map_guard_add(map, size, path) : 0;  // a file that shrinks later: see map_guard.h
  if (rc == 0) rc = lj_st_parse(map ? map : (const void *)"", size, path, out);
  if (rc < 0) {
    if (map) lj_map_guard_remove(map), munmap(map, size);
    return rc;
  }
  out->map = map;
  out->map_size = size;
  out->path = strdup(path);
  if (!out->path) {
    lj_st_close(out);
    return LJ_FAIL(LJ_ENOMEM, "%s: out of memory", path);
  }
  for (int i = 0; i < out->n_tensors; i++) out->tensors[i].file = out->path;
  return LJ_OK;
}

void lj_st_close(lj_st_file *f) {
  free_tensors(f);
  if (f->map) lj_map_guard_remove(f->map), munmap(f->map, f->map_size);
  free(f->path);
  memset(f, 0, sizeof *f);
}

const lj_st_tensor *lj_st_file_find(const lj_st_file *f, const char *name) {
  for (int i = 0; i < f->n_tensors; i++)
    if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
  return NULL;
}

int lj_st_index_parse(const char *json_text, size_t len, const char *origin,
                      int (*fn)(void *ctx, const char *tensor, const char *shard), void *ctx) {
  json_error_t jerr;
  json_t *root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) return LJ_FAIL(LJ_EINVAL, "%s: line %d: %s", origin, jerr.line, jerr.text);
  int rc = LJ_OK;
  json_t *map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
  if (!json_is_object(map)) {
    rc = LJ_FAIL(LJ_EINVAL, "%s: field 'weight_map' missing or not an object", origin);
  } else {
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
      if (!json_is_string(v)) {
        rc = LJ_FAIL(LJ_EINVAL, "%s: weight_map['%s'] is not a string", origin, key);
        break;
      }
      const char *shard = json_string_value(v);
      if (!*shard || strchr(shard, '/') || !strcmp(shard, ".") || !strcmp(shard, "..")) {
        rc = LJ_FAIL(LJ_EINVAL, "%s: weight_map['%s'] = '%s' is not a file name in the checkpoint directory", origin,
                     key, shard);
        break;
      }
      rc = fn(ctx, key, shard);
      if (rc < 0) break;
    }
  }
  json_decref(root);
  return rc;
}

// ---- sets: one file or an index of shards
typedef struct {
  const char *dir;
  const char *index_path;
  lj_st_set *set;
} index_ctx;

static int path_join(char *out, size_t cap, const char *dir, const char *name) {
  if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
    return LJ_FAIL(LJ_EINVAL, "path too long: %s/%s", dir, name);
  return LJ_OK;
}

static int open_shard(void *vctx, const char *tensor, const char *shard) {
  index_ctx *ctx = vctx;
  char path[4096];
  LJ_TRY(path_join(path, sizeof path, ctx->dir, shard));
  lj_st_file *f = NULL;
  for (int i = 0; i < ctx->set->n_files; i++)
    if (!strcmp(ctx->set->files[i].path, path)) f = &ctx->set->files[i];
  if (!f) {
    lj_st_file *grown = realloc(ctx->set->files, ((size_t)ctx->set->n_files + 1) * sizeof *grown);
    if (!grown) return LJ_FAIL(LJ_ENOMEM, "out of memory opening %s", path);
    ctx->set->files = grown;
    f = &grown[ctx->set->n_files];
    LJ_TRY(lj_st_open(path, f));
    ctx->set->n_files++;
  }
  if (!lj_st_file_find(f, tensor))
    return LJ_FAIL(LJ_EINVAL, "%s: lists tensor '%s' in %s, which does not hold it", ctx->index_path, tensor, path);
  return LJ_OK;
}

int lj_st_set_open(const char *dir, lj_st_set *out) {
  memset(out, 0, sizeof *out);
  char path[4096];
  LJ_TRY(path_join(path, sizeof path, dir, "model.safetensors"));
  if (access(path, F_OK) == 0) {
    out->files = calloc(1, sizeof *out->files);
    if (!out->files) return LJ_FAIL(LJ_ENOMEM, "out of memory");
    int rc = lj_st_open(path, &out->files[0]);
    if (rc < 0) {
      lj_st_set_close(out);
      return rc;
    }
    out->n_files = 1;
    return LJ_OK;
  }
  char index_path[4096];
  LJ_TRY(path_join(index_path, sizeof index_path, dir, "model.safetensors.index.json"));
  if (access(index_path, F_OK) != 0)
    return LJ_FAIL(LJ_EINVAL, "%s: no model.safetensors and no model.safetensors.index.json", dir);
  int rc;
  FILE *fp = lj_fopen_input(index_path, LJ_EINVAL, &rc);
  if (!fp) return rc;
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 65536 > cap) {
      cap = cap ? cap * 2 : 65536;
      char *g = cap > (size_t)HEADER_MAX ? NULL : realloc(text, cap);
      if (!g) {
        free(text);
        fclose(fp);
        return LJ_FAIL(LJ_EINVAL, "%s: too large or out of memory", index_path);
      }
      text = g;
    }
    size_t got = fread(text + len, 1, cap - len, fp);
    len += got;
    if (got == 0) break;
  }
  fclose(fp);
  index_ctx ctx = {dir, index_path, out};
  rc = lj_st_index_parse(text, len, index_path, open_shard, &ctx);
  free(text);
  if (rc < 0) lj_st_set_close(out);
  return rc;
}

void lj_st_set_close(lj_st_set *s) {
  for (int i = 0; i < s->n_files; i++) lj_st_close(&s->files[i]);
  free(s->files);
  memset(s, 0, sizeof *s);
}

const lj_st_tensor *lj_st_set_find(const lj_st_set *s, const char *name) {
  for (int i = 0; i < s->n_files; i++) {
    const lj_st_tensor *t = lj_st_file_find(&s->files[i], name);
    if (t) return t;
  }
  return NULL;
}
