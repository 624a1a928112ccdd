// Exercises det_math on fixed pseudo-random inputs and prints every result's bits as one hash,
// plus the worst error of exp, log and sigmoid against long double references. Compiled by
// tests/test_numerics.py for the baseline instruction set and for the widest one the CPU has:
// the hashes must agree.
#include <cmath>
#include <cstdio>
#include <vector>

#include "det_math.h"

static uint64_t state = 88172645463325252ull;
static float next_uniform() {  // xorshift64: inputs that do not depend on any library
  state ^= state << 13, state ^= state >> 7, state ^= state << 17;
  return static_cast<float>(state >> 40) * (1.0f / 16777216.0f);
}

static uint64_t hash = 1469598103934665603ull;
static void mix(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    hash ^= static_cast<uint32_t>(det::float_to_bits(x[i]));
    hash *= 1099511628211ull;
  }
}

static double ulps(float got, long double want) {
  const float w = static_cast<float>(want);
  const double ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return std::fabs(static_cast<long double>(got) - want) / ulp;
}

int main() {
  double worst_exp = 0, worst_log = 0, worst_sigmoid = 0;
  std::vector<float> xs(200003);
  for (auto& x : xs) x = (next_uniform() - 0.5f) * 160.0f;
  for (float x : xs) {
    worst_exp = std::fmax(worst_exp, ulps(det::exp(x), std::exp(static_cast<long double>(x))));
    worst_sigmoid = std::fmax(worst_sigmoid, ulps(det::sigmoid(x), 1.0L / (1.0L + std::exp(-static_cast<long double>(x)))));
    const float y = std::fabs(x) * next_uniform() + 1e-30f;
    worst_log = std::fmax(worst_log, ulps(det::log(y), std::log(static_cast<long double>(y))));
    float r[4] = {det::exp(x), det::log(y), det::sigmoid(x), det::tanh(x)};
    mix(r, 4);
  }
  std::vector<float> s(xs), t(xs);
  det::sigmoid_n(s.data(), s.size());
  det::tanh_n(t.data(), t.size());
  mix(s.data(), s.size());
  mix(t.data(), t.size());
  bool same_as_reference = true;  // every blocked product equals the plain fma loop, sequential in k
  for (int shape = 0; shape < 7; ++shape) {
    const int64_t M = 3 + 29 * shape, K = shape == 6 ? 300 : 7 + 13 * shape, N = 5 + 37 * shape;
    std::vector<float> A(M * K), B(K * N), C(M * N), D(K * N), E(M * N);
    for (auto& a : A) a = next_uniform() < 0.3f ? 0.0f : next_uniform() - 0.5f;
    for (auto& b : B) b = next_uniform() - 0.5f;
    for (auto& e : E) e = next_uniform() - 0.5f;
    det::gemm(A.data(), K, B.data(), N, C.data(), N, M, K, N, false);
    det::gemm(A.data(), K, B.data(), N, C.data(), N, M, K, N, true);
    det::gemm_tn(A.data(), K, E.data(), N, D.data(), N, M, K, N, false);
    mix(C.data(), C.size());
    mix(D.data(), D.size());
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float once = 0.0f;
        for (int64_t k = 0; k < K; ++k) once = std::fma(A[i * K + k], B[k * N + j], once);
        float twice = once;
        for (int64_t k = 0; k < K; ++k) twice = std::fma(A[i * K + k], B[k * N + j], twice);
        same_as_reference = same_as_reference && det::float_to_bits(twice) == det::float_to_bits(C[i * N + j]);
      }
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        float sum = 0.0f;
        for (int64_t i = 0; i < M; ++i) sum = std::fma(A[i * K + k], E[i * N + j], sum);
        same_as_reference = same_as_reference && det::float_to_bits(sum) == det::float_to_bits(D[k * N + j]);
      }
  }
  std::printf("blocked products equal the plain loops: %s\n", same_as_reference ? "yes" : "no");
  std::printf("hash %016llx\nworst_ulp exp %.3f log %.3f sigmoid %.3f\n", static_cast<unsigned long long>(hash),
              worst_exp, worst_log, worst_sigmoid);
  return 0;
}
