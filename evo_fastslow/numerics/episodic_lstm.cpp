// The epLSTM's replay (Ritter et al. 2018) for the Python path's learning pass, forward and backward
// over a whole recorded sequence in C++ with det_math's arithmetic (a Python loop of autograd ops cost
// more than the arithmetic). The cell: gates from [x_t | 1 | h_{t-1}] @ weights, columns i, f, g, o, r;
//   c_t = f c_{t-1} + i g + r m_t,   h_t = o tanh(c_t),
// with i, f, o, r sigmoids, g = tanh, and m_t = tanh(retrieved cell state), a recorded constant.
#include <algorithm>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "det_math.h"
#include "ops.h"

namespace evo {
namespace {

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device().is_cpu(), name,
              " must be a contiguous float32 CPU tensor");
}

// -> [h [T, B, H], rows [T + 1, B, K], acts [T, B, 5H] (activated gates), cells [T, B, H], tanh_c [T, B, H]]
std::vector<at::Tensor> episodic_lstm_forward(const at::Tensor& weights, const at::Tensor& x, const at::Tensor& m) {
  check(weights, "weights"), check(x, "x"), check(m, "m");
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), K = weights.size(0), G = weights.size(1), H = G / 5;
  TORCH_CHECK(x.dim() == 3 && G % 5 == 0 && K == I + 1 + H && m.sizes() == at::IntArrayRef({T, B, H}),
              "x [T, B, I], m [T, B, H] and weights [I + 1 + H, 5H] expected");
  auto rows = at::zeros({T + 1, B, K}, x.options());
  rows.narrow(0, 0, T).narrow(2, 0, I).copy_(x);
  rows.narrow(0, 0, T).select(2, I).fill_(1.0f);
  auto acts = at::empty({T, B, G}, x.options());
  auto cells = at::empty({T, B, H}, x.options()), tanh_c = at::empty({T, B, H}, x.options());
  float *R = rows.data_ptr<float>(), *S = acts.data_ptr<float>(), *C = cells.data_ptr<float>();
  float* TC = tanh_c.data_ptr<float>();
  const float *M = m.data_ptr<float>(), *W = weights.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t) {
    float* s = S + t * B * G;
    det::gemm(R + t * B * K, K, W, G, s, G, B, K, G, false);
    for (int64_t b = 0; b < B; ++b) {  // activations through det's vectorised loops: the same bits as per element
      float* sb = s + b * G;
      det::sigmoid_n(sb, 2 * H);          // i, f
      det::tanh_n(sb + 2 * H, H);         // g
      det::sigmoid_n(sb + 3 * H, 2 * H);  // o, r
      const float* mb = M + (t * B + b) * H;
      const float* prev = t > 0 ? C + ((t - 1) * B + b) * H : nullptr;
      float *c = C + (t * B + b) * H, *tc = TC + (t * B + b) * H;
      for (int64_t j = 0; j < H; ++j)
        c[j] = sb[H + j] * (prev ? prev[j] : 0.0f) + sb[j] * sb[2 * H + j] + sb[4 * H + j] * mb[j];
      std::copy(c, c + H, tc);
      det::tanh_n(tc, H);
      float* h_out = R + ((t + 1) * B + b) * K + I + 1;
      for (int64_t j = 0; j < H; ++j) h_out[j] = sb[3 * H + j] * tc[j];
    }
  }
  auto h = rows.narrow(0, 1, T).narrow(2, I + 1, H).contiguous();
  return {h, rows, acts, cells, tanh_c};
}

// d loss / d h [T, B, H] -> [d weights [K, 5H], d x [T, B, I]].
std::vector<at::Tensor> episodic_lstm_backward(const at::Tensor& weights, const at::Tensor& m, const at::Tensor& rows,
                                               const at::Tensor& acts, const at::Tensor& cells,
                                               const at::Tensor& tanh_c, const at::Tensor& d_h_in) {
  const int64_t T = acts.size(0), B = acts.size(1), G = acts.size(2), H = G / 5, K = rows.size(2), I = K - 1 - H;
  auto d_h = d_h_in.contiguous();
  auto d_gates = at::empty({T, B, G}, weights.options());
  auto d_hidden = at::zeros({B, H}, weights.options());  // d loss / d h_t through the recurrence
  std::vector<float> d_cell(B * H, 0.0f);
  auto w_hidden_t = weights.narrow(0, K - H, H).t().contiguous();  // [5H, H]
  const float *S = acts.data_ptr<float>(), *C = cells.data_ptr<float>(), *TC = tanh_c.data_ptr<float>();
  const float *M = m.data_ptr<float>(), *DH = d_h.data_ptr<float>();
  float *DG = d_gates.data_ptr<float>(), *DR = d_hidden.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const float* s = S + (t * B + b) * G;
      float* d = DG + (t * B + b) * G;
      for (int64_t j = 0; j < H; ++j) {
        const float i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j], r = s[4 * H + j];
        const float tc = TC[(t * B + b) * H + j], dh = DH[(t * B + b) * H + j] + DR[b * H + j];
        const float dc = d_cell[b * H + j] + dh * o * (1.0f - tc * tc);
        const float prev = t > 0 ? C[((t - 1) * B + b) * H + j] : 0.0f;
        d[j] = dc * g * i * (1.0f - i);
        d[H + j] = dc * prev * f * (1.0f - f);
        d[2 * H + j] = dc * i * (1.0f - g * g);
        d[3 * H + j] = dh * tc * o * (1.0f - o);
        d[4 * H + j] = dc * M[(t * B + b) * H + j] * r * (1.0f - r);
        d_cell[b * H + j] = dc * f;
      }
    }
    if (t > 0) det::gemm(DG + t * B * G, G, w_hidden_t.data_ptr<float>(), H, DR, H, B, G, H, false);
  }
  auto d_weights = at::empty({K, G}, weights.options());
  det::gemm_tn(rows.data_ptr<float>(), K, DG, G, d_weights.data_ptr<float>(), G, T * B, K, G, false);
  auto w_input_t = weights.narrow(0, 0, I).t().contiguous();  // [5H, I]
  auto d_x = at::empty({T, B, I}, weights.options());
  det::gemm(DG, G, w_input_t.data_ptr<float>(), I, d_x.data_ptr<float>(), I, T * B, G, I, false);
  return {d_weights, d_x};
}

}  // namespace
}  // namespace evo

TORCH_LIBRARY_FRAGMENT(evo_fastslow, m) {
  m.def("episodic_lstm_forward(Tensor weights, Tensor x, Tensor m) -> Tensor[]", &evo::episodic_lstm_forward);
  m.def("episodic_lstm_backward(Tensor weights, Tensor m, Tensor rows, Tensor acts, Tensor cells, Tensor tanh_c, "
        "Tensor d_h) -> Tensor[]", &evo::episodic_lstm_backward);
}
