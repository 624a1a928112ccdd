// Shared by the fused kernel (recurrent_a2c.cpp) and the deterministic ops (ops.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace evo {

// C = A B (accumulate: C += A B) for row-major float matrices (unit column stride): deterministic
// (det_math) unless `native`, which takes ATen's BLAS, fastest but CPU-dependent.
void mm(at::Tensor& C, const at::Tensor& A, const at::Tensor& B, bool native, bool accumulate = false);
// C = A^T B.
void mm_tn(at::Tensor& C, const at::Tensor& A, const at::Tensor& B, bool native);
// In place, on the first `cols` columns of every row of a [rows, stride] matrix.
void sigmoid_rows(at::Tensor& x, int64_t cols, bool native);

// The A2C loss of B episodes of T steps from heads [T, B, k + 1] (policy logits, then the value):
// n-step returns to the episode's end, advantage = return - value, loss = policy + value_cost * value
// - entropy_cost * entropy, each the mean over steps and episodes. With gae_lambda < 1 the advantage
// is GAE(lambda) (Schulman et al. 2016; no bootstrap past the episode's end) and the value's target
// advantage + value; `normalize` rescales the policy's advantages to mean 0 and deviation 1 over the
// batch. `bootstrap` [B] (or null: 0): each episode's value estimate past its last step, where an update
// within an episode truncates it (lifetime/truncated.py). Writes d loss / d heads into d_heads and returns
// {total, policy, value, entropy}.
std::vector<double> a2c_loss_gradient(const float* heads, const int64_t* actions, const float* rewards, int64_t T,
                                      int64_t B, int64_t k, float* d_heads, double discount, double value_cost,
                                      double entropy_cost, double gae_lambda, bool normalize,
                                      const float* bootstrap = nullptr);

// The kernel-weighted mean [B, V] of the k nearest of the first `size` stored values (keys [B, N, D],
// values [B, N, V], query [B, D]): squared distances summed in order, ties to the lower slot, weights
// 1 / (d^2 + delta) normalised.
void knn_read_raw(const float* keys, const float* values, const float* query, int64_t B, int64_t N, int64_t D,
                  int64_t V, int64_t size, int64_t k, float delta, float* out);

}  // namespace evo
