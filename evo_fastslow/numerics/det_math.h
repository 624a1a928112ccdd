// Deterministic float arithmetic: the same bits on every CPU.
//
// Why: a BLAS (MKL, OpenBLAS) and ATen's vectorised kernels pick a code path per instruction set:
// other blockings, other summation orders, fused multiply-adds or not, other polynomial approximations
// of exp and tanh. Training amplifies one-ulp differences, so a lifetime's fitness depended on the node
// that ran it. Here every result is a fixed sequence of IEEE-754 operations, each correctly rounded and
// so the same on any conforming CPU: +, -, *, /, sqrt, and in the matrix products fma (a * b + c with
// one rounding: hardware FMA where the CPU has it, glibc's exact software fmaf where it does not).
// Everything else is compiled with contraction off (-ffp-contract=off: no fma the source did not ask
// for) and no fast-math (no reordering). Vectorising across independent outputs does not change any
// output's sequence, so the loops are compiled for several instruction sets (picked at load time) and
// still agree bit for bit (tests/test_numerics.py compiles this code for the baseline and the widest
// ISA of the CPU and compares). No libm call but fmaf: glibc picks FMA variants of exp and log per CPU.
#pragma once

#include <cstdint>
#include <cstring>

namespace det {

inline float bits_to_float(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline int32_t float_to_bits(float f) {
  int32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// e^x (Cephes' expf: Cody-Waite reduction by ln 2, degree-6 polynomial), inputs clamped to
// [-87, 88] so the result stays a normal float (within 2 ulp of the true value there).
inline float exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;  // ln 2 in two parts: n * 0.693359375 is exact
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r;
  p = p + 1.0f;
  return p * bits_to_float((static_cast<int32_t>(n) + 127) << 23);
}

// log x for x > 0 (fdlibm's logf: x = 2^k (1 + f), log(1 + f) through s = f / (2 + f)); below 1 ulp.
inline float log(float x) {
  int32_t ix = float_to_bits(x);
  int32_t k = 0;
  if (ix < 0x00800000) {  // subnormal: scale into the normal range
    x *= 33554432.0f;     // 2^25
    ix = float_to_bits(x);
    k = -25;
  }
  k += (ix >> 23) - 127;
  ix &= 0x007fffff;
  const int32_t i = (ix + (0x95f64 << 3)) & 0x800000;  // mantissa above sqrt(2): halve it
  x = bits_to_float(ix | (i ^ 0x3f800000));
  k += i >> 23;
  const float f = x - 1.0f;
  const float s = f / (2.0f + f), dk = static_cast<float>(k);
  const float z = s * s, w = z * z;
  const float t1 = w * (4.0000000596e-01f + w * 2.2222198546e-01f);
  const float t2 = z * (6.6666668653e-01f + w * 2.8571429849e-01f);
  const float R = t2 + t1;
  const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
  if (((ix - (0x6147a << 3)) | ((0x6b851 << 3) - ix)) > 0) {
    const float hfsq = 0.5f * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
  }
  return dk * ln2_hi - ((s * (f - R) - dk * ln2_lo) - f);
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// tanh x = 2 sigmoid(2x) - 1 (absolute error about 1e-7 near 0, as the fused kernel always had).
inline float tanh(float x) { return 2.0f * sigmoid(2.0f * x) - 1.0f; }

// Loops over arrays, compiled in instruction-set clones (det_math.cpp).
void sigmoid_n(float* x, int64_t n);  // in place
void tanh_n(float* x, int64_t n);     // in place

// C[M, N] (+)= A[M, K] B[K, N], row-major with leading dimensions: each C[i, j] starts from C[i, j]
// (accumulate) or 0 and takes c = fma(A[i, k], B[k, j], c) for k in increasing order (one rounding
// per step, on every CPU); vectorised over j. C must not overlap A or B.
void gemm(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, int64_t M, int64_t K,
          int64_t N, bool accumulate);

// C[K, N] (+)= A[M, K]^T B[M, N]: each C[k, j] sums over the rows i in increasing order.
void gemm_tn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, int64_t M,
             int64_t K, int64_t N, bool accumulate);

}  // namespace det
