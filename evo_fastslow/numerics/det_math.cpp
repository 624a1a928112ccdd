// The array loops of det_math.h. Elementwise loops come in instruction-set clones (contraction off:
// the same operations in every clone). Products use fused multiply-adds, explicitly and everywhere —
// with hardware FMA (AVX-512 or AVX2 + FMA, chosen at run time) or, on older CPUs, glibc's
// correctly rounded software fmaf: one rounding per step on every CPU, so the same bits.
#include "det_math.h"

#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define DET_X86 1
#endif

#if defined(DET_X86) && !defined(DET_NO_CLONES)
#define DET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DET_CLONES
#endif

namespace det {

DET_CLONES void sigmoid_n(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = sigmoid(x[i]);
}

DET_CLONES void tanh_n(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = tanh(x[i]);
}

namespace {
constexpr int64_t RB = 4, KC = 128;  // rows per register block; k per cache chunk
typedef float vec8 __attribute__((vector_size(32)));
typedef float vec16 __attribute__((vector_size(64)));
}  // namespace

// Portable: 8 lanes, each a correctly rounded fmaf (hardware where the compiler targets it, else glibc).
namespace soft {
using V = vec8;
constexpr int64_t W = 8;
inline V madd(V acc, float a, V b) {
  for (int64_t i = 0; i < W; ++i) acc[i] = __builtin_fmaf(a, b[i], acc[i]);
  return acc;
}
#include "det_blocks.h"
}  // namespace soft

// With DET_NO_CLONES (the tests' builds for one instruction set) only what -march enables is built.
#if defined(DET_X86) && (!defined(DET_NO_CLONES) || (defined(__AVX2__) && defined(__FMA__)))
#define DET_AVX2 1
#pragma GCC push_options
#if !defined(DET_NO_CLONES)
#pragma GCC target("arch=x86-64-v3")
#endif
namespace avx2 {
using V = vec8;
constexpr int64_t W = 8;
inline V madd(V acc, float a, V b) { return _mm256_fmadd_ps(_mm256_set1_ps(a), b, acc); }
#include "det_blocks.h"
}  // namespace avx2
#pragma GCC pop_options
#endif

#if defined(DET_X86) && (!defined(DET_NO_CLONES) || (defined(__AVX512F__) && defined(__AVX512BW__) && \
                                                     defined(__AVX512DQ__) && defined(__AVX512VL__)))
#define DET_AVX512 1
#pragma GCC push_options
#if !defined(DET_NO_CLONES)
#pragma GCC target("arch=x86-64-v4")
#endif
namespace avx512 {
using V = vec16;
constexpr int64_t W = 16;
inline V madd(V acc, float a, V b) { return _mm512_fmadd_ps(_mm512_set1_ps(a), b, acc); }
#include "det_blocks.h"
}  // namespace avx512
#pragma GCC pop_options
#endif

namespace {
enum class Isa { soft, avx2, avx512 };
Isa detect() {
#if defined(DET_NO_CLONES)  // the tests' builds for one instruction set: the widest it was compiled for
#if defined(DET_AVX512)
  return Isa::avx512;
#elif defined(DET_AVX2)
  return Isa::avx2;
#else
  return Isa::soft;
#endif
#elif defined(DET_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::soft;
#else
  return Isa::soft;
#endif
}
const Isa isa = detect();
}  // namespace

namespace {
void any_product(const float* A, int64_t a_row, int64_t a_col, const float* B, int64_t ldb, float* C, int64_t ldc,
                 int64_t M, int64_t K, int64_t N, bool accumulate) {
#if defined(DET_AVX512)
  if (isa == Isa::avx512) return avx512::product(A, a_row, a_col, B, ldb, C, ldc, M, K, N, accumulate);
#endif
#if defined(DET_AVX2)
  if (isa == Isa::avx2) return avx2::product(A, a_row, a_col, B, ldb, C, ldc, M, K, N, accumulate);
#endif
  soft::product(A, a_row, a_col, B, ldb, C, ldc, M, K, N, accumulate);
}
}  // namespace

void gemm(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, int64_t M, int64_t K,
          int64_t N, bool accumulate) {
  any_product(A, lda, 1, B, ldb, C, ldc, M, K, N, accumulate);
}

void gemm_tn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, int64_t M, int64_t K,
             int64_t N, bool accumulate) {
  // C[k, j] = (C or 0) + sum over the rows i, in order, of A[i, k] B[i, j]: A^T has rows of stride 1
  any_product(A, 1, lda, B, ldb, C, ldc, K, M, N, accumulate);
}

}  // namespace det
