// Deterministic random weights, identical on CPU and GPU.
//
// Every weight is a pure function of (seed, tensor id, element index): a
// counter-based hash (splitmix64), so the CUDA engine can fill 70B parameters
// on the device and the CPU engine gets bit-identical values without any
// shared state. Distribution (documented in docs/model.md):
//   matrices: uniform on [-a, a] with a = sqrt(3) * 0.02, i.e. std 0.02
//             (HF's initializer_range for Llama);
//   RMSNorm weights: 1 + uniform on [-0.1, 0.1]  (not all-ones, so a wrong
//             norm weight index shows up in tests).
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define LJ_HOST_DEVICE __host__ __device__
#else
#define LJ_HOST_DEVICE
#endif

#define LJ_RANDOM_STD 0.02f

// Tensor ids: layer * 16 + slot for per-layer tensors, 0xFFFF0000 + slot for global ones.
enum {
  LJ_TENSOR_ATTN_NORM = 0, LJ_TENSOR_WQ = 1, LJ_TENSOR_WK = 2, LJ_TENSOR_WV = 3, LJ_TENSOR_WO = 4,
  LJ_TENSOR_FFN_NORM = 5, LJ_TENSOR_W_GATE = 6, LJ_TENSOR_W_UP = 7, LJ_TENSOR_W_DOWN = 8,
};
enum { LJ_TENSOR_EMBED = 0, LJ_TENSOR_FINAL_NORM = 1, LJ_TENSOR_LM_HEAD = 2 };
static inline LJ_HOST_DEVICE uint32_t lj_layer_tensor_id(int layer, int slot) {
  return (uint32_t)layer * 16u + (uint32_t)slot;
}
static inline LJ_HOST_DEVICE uint32_t lj_global_tensor_id(int slot) { return 0xFFFF0000u + (uint32_t)slot; }

static inline LJ_HOST_DEVICE uint64_t lj_splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1) from the top 24 bits: exact in float on both sides.
static inline LJ_HOST_DEVICE float lj_random_unit(uint64_t seed, uint32_t tensor_id, uint64_t index) {
  uint64_t h = lj_splitmix64(seed ^ lj_splitmix64(((uint64_t)tensor_id << 40) ^ index));
  return (float)(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

static inline LJ_HOST_DEVICE float lj_random_matrix_weight(uint64_t seed, uint32_t tensor_id, uint64_t index) {
  return lj_random_unit(seed, tensor_id, index) * (1.7320508f * LJ_RANDOM_STD);
}

static inline LJ_HOST_DEVICE float lj_random_norm_weight(uint64_t seed, uint32_t tensor_id, uint64_t index) {
  return 1.0f + 0.1f * lj_random_unit(seed, tensor_id, index);
}
