// safetensors reader: an 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {str: str}}), then the data; offsets are relative to the
// data. Files are memory-mapped; tensors are views into the map.
// A checkpoint is one model.safetensors or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/dtype.h"

#define LJ_ST_MAX_DIMS 8

typedef struct {
  char *name;
  lj_dtype dtype;
  int ndim;
  int64_t shape[LJ_ST_MAX_DIMS];
  uint64_t begin, end;  // byte offsets in the data section
  const void *data;     // begin's address in the mapped file
  const char *file;     // the path of the file holding it
} lj_st_tensor;

typedef struct {
  char *path;
  void *map;
  size_t map_size;
  lj_st_tensor *tensors;
  int n_tensors;
} lj_st_file;

// Parses the header of a whole safetensors file held in memory (`buf`, `size`
// bytes) and checks every entry against the data section: known dtype, shape
// x dtype size == end - begin, offsets inside the data, no overlaps, element
// alignment. `origin` names the file in errors. The tensors point into `buf`.
int lj_st_parse(const uint8_t *buf, size_t size, const char *origin, lj_st_file *out);

// mmap + lj_st_parse.
int lj_st_open(const char *path, lj_st_file *out);
void lj_st_close(lj_st_file *f);
const lj_st_tensor *lj_st_file_find(const lj_st_file *f, const char *name);

typedef struct {
  lj_st_file *files;
  int n_files;
} lj_st_set;

// Opens <dir>/model.safetensors, or the shards named by
// <dir>/model.safetensors.index.json (each tensor must be in the shard the
// index names).
int lj_st_set_open(const char *dir, lj_st_set *out);
void lj_st_set_close(lj_st_set *s);
const lj_st_tensor *lj_st_set_find(const lj_st_set *s, const char *name);

// Reads a model.safetensors.index.json's weight_map: calls fn(tensor, shard)
// per entry. Shard names must be plain file names (no '/').
int lj_st_index_parse(const char *json_text, size_t len, const char *origin,
                      int (*fn)(void *ctx, const char *tensor, const char *shard), void *ctx);
