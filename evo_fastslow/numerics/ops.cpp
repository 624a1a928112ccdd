// Deterministic building blocks for the Python path's learning pass (numerics/ops.py wraps them for
// autograd; numpy_ops.cpp has the acting pass's), and the A2C loss that the fused kernel shares. All
// arithmetic is det_math's.
#include "ops.h"

#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

#include "det_math.h"

namespace evo {

namespace {
void check_float(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.device().is_cpu(), name, " must be a float32 CPU tensor");
}
}  // namespace

void mm(at::Tensor& C, const at::Tensor& A, const at::Tensor& B, bool native, bool accumulate) {
  if (native) {
    if (accumulate)
      C.addmm_(A, B);
    else
      at::mm_out(C, A, B);
    return;
  }
  det::gemm(A.data_ptr<float>(), A.stride(0), B.data_ptr<float>(), B.stride(0), C.data_ptr<float>(), C.stride(0),
            A.size(0), A.size(1), B.size(1), accumulate);
}

void mm_tn(at::Tensor& C, const at::Tensor& A, const at::Tensor& B, bool native) {
  if (native) {
    at::mm_out(C, A.t(), B);
    return;
  }
  det::gemm_tn(A.data_ptr<float>(), A.stride(0), B.data_ptr<float>(), B.stride(0), C.data_ptr<float>(),
               C.stride(0), A.size(0), A.size(1), B.size(1), false);
}

void sigmoid_rows(at::Tensor& x, int64_t cols, bool native) {
  if (native) {
    x.narrow(1, 0, cols).sigmoid_();
    return;
  }
  float* p = x.data_ptr<float>();
  if (cols == x.size(1)) return det::sigmoid_n(p, x.numel());
  for (int64_t r = 0; r < x.size(0); ++r) det::sigmoid_n(p + r * x.stride(0), cols);
}

std::vector<double> a2c_loss_gradient(const float* heads, const int64_t* actions, const float* rewards, int64_t T,
                                      int64_t B, int64_t k, float* d_heads, double discount, double value_cost,
                                      double entropy_cost, double gae_lambda, bool normalize,
                                      const float* bootstrap) {
  const int64_t K1 = k + 1;
  const double n = static_cast<double>(T * B);
  std::vector<float> returns(T * B), advantages(T * B);  // returns: the value's targets
  for (int64_t b = 0; b < B; ++b) {
    double running = bootstrap ? bootstrap[b] : 0.0;
    for (int64_t t = T - 1; t >= 0; --t) {
      running = rewards[t * B + b] + discount * running;
      returns[t * B + b] = static_cast<float>(running);
    }
  }
  for (int64_t i = 0; i < T * B; ++i) advantages[i] = returns[i] - heads[i * K1 + k];
  if (gae_lambda < 1.0) {
    for (int64_t b = 0; b < B; ++b) {
      double running = 0.0;
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t i = t * B + b;
        const double next_value = t + 1 < T ? heads[(i + B) * K1 + k] : (bootstrap ? bootstrap[b] : 0.0);
        const double delta = rewards[i] + discount * next_value - heads[i * K1 + k];
        running = delta + discount * gae_lambda * running;
        advantages[i] = static_cast<float>(running);
        returns[i] = static_cast<float>(running + heads[i * K1 + k]);
      }
    }
  }
  if (normalize) {  // in double, summed in index order: the same on every CPU
    double sum = 0.0, squares = 0.0;
    for (int64_t i = 0; i < T * B; ++i) sum += advantages[i];
    const double mean = sum / n;
    for (int64_t i = 0; i < T * B; ++i) squares += (advantages[i] - mean) * (advantages[i] - mean);
    const double scale = 1.0 / (std::sqrt(squares / n) + 1e-8);
    for (int64_t i = 0; i < T * B; ++i) advantages[i] = static_cast<float>((advantages[i] - mean) * scale);
  }
  double policy = 0.0, value = 0.0, entropy = 0.0;
  std::vector<float> log_p(k), p(k);
  for (int64_t i = 0; i < T * B; ++i) {
    const float* z = heads + i * K1;
    float top = z[0];
    for (int64_t a = 1; a < k; ++a) top = std::max(top, z[a]);
    float total = 0.0f;
    for (int64_t a = 0; a < k; ++a) total += det::exp(z[a] - top);
    const float log_total = top + det::log(total);
    float h = 0.0f;
    for (int64_t a = 0; a < k; ++a) {
      log_p[a] = z[a] - log_total;
      p[a] = det::exp(log_p[a]);
      h -= p[a] * log_p[a];
    }
    const float v = z[k], advantage = advantages[i], error = returns[i] - v;
    const int64_t taken = actions[i];
    policy -= static_cast<double>(log_p[taken]) * advantage;
    value += 0.5 * static_cast<double>(error) * error;
    entropy += h;
    for (int64_t a = 0; a < k; ++a) {
      const double d_policy = -static_cast<double>(advantage) * ((a == taken ? 1.0 : 0.0) - p[a]);
      const double d_entropy = entropy_cost * p[a] * (static_cast<double>(log_p[a]) + h);
      d_heads[i * K1 + a] = static_cast<float>((d_policy + d_entropy) / n);
    }
    d_heads[i * K1 + k] = static_cast<float>(value_cost * (v - returns[i]) / n);
  }
  policy /= n, value /= n, entropy /= n;
  return {policy + value_cost * value - entropy_cost * entropy, policy, value, entropy};
}

void knn_read_raw(const float* keys, const float* values, const float* query, int64_t B, int64_t N, int64_t D,
                  int64_t V, int64_t size, int64_t k, float delta, float* out) {
  const int64_t use = std::min(k, size);
  std::vector<float> d2(size), weights(use);
  std::vector<std::pair<float, int64_t>> order(size);
  for (int64_t b = 0; b < B; ++b) {
    // d2[s] = sum over d, in order, of (key - query)^2; a NaN distance counts as +inf
    std::fill(d2.begin(), d2.end(), 0.0f);
    for (int64_t d = 0; d < D; ++d) {
      const float q = query[b * D + d];
      const float* key = keys + b * N * D + d;
      for (int64_t s = 0; s < size; ++s) {
        const float diff = key[s * D] - q;
        d2[s] += diff * diff;
      }
    }
    for (int64_t s = 0; s < size; ++s) order[s] = {d2[s] != d2[s] ? INFINITY : d2[s], s};
    // the `use` nearest, nearest first, ties to the older slot: select, then sort the selected
    if (use < size) std::nth_element(order.begin(), order.begin() + (use - 1), order.end());
    std::sort(order.begin(), order.begin() + use);
    float total = 0.0f;
    for (int64_t i = 0; i < use; ++i) total += (weights[i] = 1.0f / (d2[order[i].second] + delta));
    float* o = out + b * V;
    std::fill(o, o + V, 0.0f);
    for (int64_t i = 0; i < use; ++i) {
      const float w = weights[i] / total;
      const float* v = values + (b * N + order[i].second) * V;
      for (int64_t j = 0; j < V; ++j) o[j] += w * v[j];
    }
  }
}

namespace {

at::Tensor det_mm(const at::Tensor& a, const at::Tensor& b) {
  check_float(a, "a"), check_float(b, "b");
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "det_mm: [M, K] @ [K, N] expected");
  auto A = a.contiguous(), B = b.contiguous();
  auto C = at::empty({a.size(0), b.size(1)}, a.options());
  mm(C, A, B, false);
  return C;
}

at::Tensor det_mm_tn(const at::Tensor& a, const at::Tensor& b) {
  check_float(a, "a"), check_float(b, "b");
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(0) == b.size(0), "det_mm_tn: [M, K]^T @ [M, N] expected");
  auto A = a.contiguous(), B = b.contiguous();
  auto C = at::empty({a.size(1), b.size(1)}, a.options());
  mm_tn(C, A, B, false);
  return C;
}

at::Tensor activation(const at::Tensor& x, void (*in_place)(float*, int64_t)) {
  check_float(x, "x");
  auto out = x.contiguous().clone();
  in_place(out.data_ptr<float>(), out.numel());
  return out;
}

at::Tensor det_sigmoid(const at::Tensor& x) { return activation(x, det::sigmoid_n); }
at::Tensor det_tanh(const at::Tensor& x) { return activation(x, det::tanh_n); }

std::tuple<at::Tensor, at::Tensor> a2c_loss(const at::Tensor& heads, const at::Tensor& actions,
                                            const at::Tensor& rewards, double discount, double value_cost,
                                            double entropy_cost, double gae_lambda, bool normalize,
                                            const std::optional<at::Tensor>& bootstrap) {
  check_float(heads, "heads"), check_float(rewards, "rewards");
  TORCH_CHECK(heads.dim() == 3 && actions.sizes() == rewards.sizes() && actions.dim() == 2 &&
                  actions.size(0) == heads.size(0) && actions.size(1) == heads.size(1) &&
                  actions.scalar_type() == at::kLong,
              "a2c_loss: heads [T, B, k + 1], actions (int64) and rewards [T, B] expected");
  auto h = heads.contiguous(), a = actions.contiguous(), r = rewards.contiguous();
  auto d_heads = at::empty_like(h);
  at::Tensor start_values;  // [B]: the values the returns bootstrap from past the last step (none: 0)
  if (bootstrap.has_value()) {
    check_float(*bootstrap, "bootstrap");
    TORCH_CHECK(bootstrap->dim() == 1 && bootstrap->size(0) == h.size(1), "a2c_loss: bootstrap [B] expected");
    start_values = bootstrap->contiguous();
  }
  auto losses = a2c_loss_gradient(h.data_ptr<float>(), a.data_ptr<int64_t>(), r.data_ptr<float>(), h.size(0),
                                  h.size(1), h.size(2) - 1, d_heads.data_ptr<float>(), discount, value_cost,
                                  entropy_cost, gae_lambda, normalize,
                                  start_values.defined() ? start_values.data_ptr<float>() : nullptr);
  return {at::tensor(losses, at::kDouble), d_heads};
}

// Gradient clipping to a total norm, then one Adam (kind 0) or RMSprop (kind 1) step on every
// parameter, in the order given. The norm is summed in double in that order; torch's formulas.
// step_size = lr / (1 - beta1^t) and bias2_sqrt = sqrt(1 - beta2^t) come from the caller (Adam).
double optimizer_step(at::TensorList params, at::TensorList grads, at::TensorList first, at::TensorList second,
                      int64_t kind, double lr, double max_norm, double beta1, double beta2, double eps,
                      double step_size, double bias2_sqrt) {
  const size_t n = params.size();
  TORCH_CHECK(grads.size() == n && first.size() == n && second.size() == n, "one grad and state per parameter");
  double squares = 0.0;
  for (size_t i = 0; i < n; ++i) {
    check_float(grads[i], "grad");
    TORCH_CHECK(grads[i].is_contiguous() && params[i].is_contiguous() && first[i].is_contiguous() &&
                    second[i].is_contiguous() && grads[i].numel() == params[i].numel(),
                "optimizer_step: contiguous tensors of one size per parameter");
    const float* g = grads[i].data_ptr<float>();
    for (int64_t j = 0; j < grads[i].numel(); ++j) squares += static_cast<double>(g[j]) * g[j];
  }
  const double norm = std::sqrt(squares);
  const double coef = max_norm / (norm + 1e-6);
  const float scale = coef < 1.0 ? static_cast<float>(coef) : 1.0f;
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2), e = static_cast<float>(eps);
  const float one_b1 = static_cast<float>(1.0 - beta1), one_b2 = static_cast<float>(1.0 - beta2);
  const float size = static_cast<float>(step_size), b2s = static_cast<float>(bias2_sqrt), rate = static_cast<float>(lr);
  for (size_t i = 0; i < n; ++i) {
    float* p = params[i].data_ptr<float>();
    const float* g = grads[i].data_ptr<float>();
    float* m = first[i].data_ptr<float>();
    float* v = second[i].data_ptr<float>();
    for (int64_t j = 0; j < params[i].numel(); ++j) {
      const float grad = scale < 1.0f ? g[j] * scale : g[j];
      if (kind == 0) {  // Adam
        m[j] = b1 * m[j] + one_b1 * grad;
        v[j] = b2 * v[j] + one_b2 * (grad * grad);
        p[j] = p[j] - size * (m[j] / (std::sqrt(v[j]) / b2s + e));
      } else {  // RMSprop (alpha = beta2)
        v[j] = b2 * v[j] + one_b2 * (grad * grad);
        p[j] = p[j] - rate * (grad / (std::sqrt(v[j]) + e));
      }
    }
  }
  return norm;
}

}  // namespace
}  // namespace evo

TORCH_LIBRARY_FRAGMENT(evo_fastslow, m) {
  m.def("det_mm(Tensor a, Tensor b) -> Tensor", &evo::det_mm);
  m.def("det_mm_tn(Tensor a, Tensor b) -> Tensor", &evo::det_mm_tn);
  m.def("det_sigmoid(Tensor x) -> Tensor", &evo::det_sigmoid);
  m.def("det_tanh(Tensor x) -> Tensor", &evo::det_tanh);
  m.def("a2c_loss(Tensor heads, Tensor actions, Tensor rewards, float discount, float value_cost, "
        "float entropy_cost, float gae_lambda, bool normalize, Tensor? bootstrap=None) -> (Tensor, Tensor)", &evo::a2c_loss);
  m.def("optimizer_step(Tensor(a!)[] params, Tensor[] grads, Tensor(b!)[] first, Tensor(c!)[] second, int kind, "
        "float lr, float max_norm, float beta1, float beta2, float eps, float step_size, float bias2_sqrt) -> float",
        &evo::optimizer_step);
}
