// The acting pass's deterministic ops for NumPy arrays, through pybind11: about a microsecond a call
// against ~15 for a torch custom op called from Python, which the NumPy acting loop pays per step.
// Same arithmetic as ops.cpp (det_math).
#include <torch/extension.h>

#include <pybind11/numpy.h>

#include <algorithm>
#include <string>
#include <vector>

#include "det_math.h"
#include "ops.h"

namespace py = pybind11;
using Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

namespace {

Array mm(const Array& a, const Array& b) {
  if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0))
    throw std::invalid_argument("mm: [M, K] @ [K, N] expected");
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  Array out({M, N});
  det::gemm(a.data(), K, b.data(), N, out.mutable_data(), N, M, K, N, false);
  return out;
}

Array map(const Array& x, void (*in_place)(float*, int64_t)) {
  Array out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  std::copy(x.data(), x.data() + x.size(), out.mutable_data());
  in_place(out.mutable_data(), out.size());
  return out;
}

void gumbel_n(float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) u[i] = -det::log(-det::log(std::max(u[i], 1e-30f)));
}

Array knn_read(const Array& keys, const Array& values, const Array& query, int64_t size, int64_t k, double delta) {
  if (keys.ndim() != 3 || values.ndim() != 3 || query.ndim() != 2 || size < 1 || size > keys.shape(1) || k < 1)
    throw std::invalid_argument("knn_read: keys [B, N, D], values [B, N, V], query [B, D], 1 <= size <= N expected");
  Array out({keys.shape(0), values.shape(2)});
  evo::knn_read_raw(keys.data(), values.data(), query.data(), keys.shape(0), keys.shape(1), keys.shape(2),
                    values.shape(2), size, k, static_cast<float>(delta), out.mutable_data());
  return out;
}

int64_t rows_of(const Array& x, const char* what) {  // x must be [B, I]: the batch size
  if (x.ndim() != 2) throw std::invalid_argument(std::string(what) + ": x [B, I] expected");
  return x.shape(0);
}

void check_rows(const Array& a, int64_t B, int64_t cols, const char* what) {
  if (a.ndim() != 2 || a.shape(0) != B || a.shape(1) != cols)
    throw std::invalid_argument(std::string(what) + ": shape [" + std::to_string(B) + ", " + std::to_string(cols) +
                                "] expected");
}

// h' = o tanh(c') for [B, H] blocks: c' copied into h', tanh'd in place, then times the output gate o
// (row b's o at gates + b * stride).
void hidden_from_cell(const float* c, const float* gates, int64_t stride, int64_t B, int64_t H, float* h) {
  std::copy(c, c + B * H, h);
  det::tanh_n(h, B * H);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) h[b * H + j] = gates[b * stride + j] * h[b * H + j];
}

// One LSTM step as LSTMActor's NumPy code takes it: s = sigmoid([x | 1 | h] @ W) with the g columns
// pre-scaled by 2, g = 2 s_g - 1, c' = f c + i g, h' = o tanh(c'). -> (h', c')
py::tuple lstm_step(const Array& x, const Array& h, const Array& c, const Array& w) {
  const int64_t B = rows_of(x, "lstm_step"), I = x.shape(1), H = h.shape(1), K = I + 1 + H;
  check_rows(h, B, H, "lstm_step h"), check_rows(c, B, H, "lstm_step c"), check_rows(w, K, 4 * H, "lstm_step w");
  std::vector<float> rows(B * K), s(B * 4 * H);
  for (int64_t b = 0; b < B; ++b) {
    std::copy(x.data() + b * I, x.data() + (b + 1) * I, rows.begin() + b * K);
    rows[b * K + I] = 1.0f;
    std::copy(h.data() + b * H, h.data() + (b + 1) * H, rows.begin() + b * K + I + 1);
  }
  det::gemm(rows.data(), K, w.data(), 4 * H, s.data(), 4 * H, B, K, 4 * H, false);
  det::sigmoid_n(s.data(), B * 4 * H);
  Array h_out({B, H}), c_out({B, H});
  float *ho = h_out.mutable_data(), *co = c_out.mutable_data();
  const float* c_in = c.data();
  for (int64_t b = 0; b < B; ++b) {
    const float* sb = s.data() + b * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const float g = 2.0f * sb[2 * H + j] - 1.0f;
      co[b * H + j] = sb[H + j] * c_in[b * H + j] + sb[j] * g;
    }
  }
  hidden_from_cell(co, s.data() + 3 * H, 4 * H, B, H, ho);
  return py::make_tuple(h_out, c_out);
}

// One GRU step as GRUActor's NumPy code takes it (gates r, z, n):
// rz = sigmoid(gx + gh), n = tanh(gx_n + r gh_n), h' = n + z (h - n), with gx = x W_x + b_x, gh = h W_h + b_h.
Array gru_step(const Array& x, const Array& h, const Array& w_x, const Array& b_x, const Array& w_h,
               const Array& b_h) {
  const int64_t B = rows_of(x, "gru_step"), I = x.shape(1), H = h.shape(1), G = 3 * H;
  check_rows(h, B, H, "gru_step h"), check_rows(w_x, I, G, "gru_step w_x"), check_rows(w_h, H, G, "gru_step w_h");
  if (b_x.size() != G || b_h.size() != G) throw std::invalid_argument("gru_step: biases of 3H expected");
  std::vector<float> gx(B * G), gh(B * G), rz(B * 2 * H);
  det::gemm(x.data(), I, w_x.data(), G, gx.data(), G, B, I, G, false);
  det::gemm(h.data(), H, w_h.data(), G, gh.data(), G, B, H, G, false);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < G; ++j) gx[b * G + j] += b_x.data()[j], gh[b * G + j] += b_h.data()[j];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < 2 * H; ++j) rz[b * 2 * H + j] = gx[b * G + j] + gh[b * G + j];
  det::sigmoid_n(rz.data(), B * 2 * H);
  Array out({B, H});
  float* n = out.mutable_data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) n[b * H + j] = gx[b * G + 2 * H + j] + rz[b * 2 * H + j] * gh[b * G + 2 * H + j];
  det::tanh_n(n, B * H);
  const float* h_in = h.data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) {
      const float nj = n[b * H + j];
      n[b * H + j] = nj + rz[b * 2 * H + H + j] * (h_in[b * H + j] - nj);
    }
  return out;
}

// One epLSTM step as EpisodicLSTMActor's NumPy code takes it (gates i, f, o, r | g):
// a = x W_x + h W_h + bias, s = sigmoid(a[:, :4H]), c' = f c + i tanh(a_g) + r tanh(m), h' = o tanh(c').
py::tuple episodic_lstm_step(const Array& x, const Array& h, const Array& c, const Array& m, const Array& w_x,
                             const Array& w_h, const Array& bias) {
  const int64_t B = rows_of(x, "episodic_lstm_step"), I = x.shape(1), H = h.shape(1), G = 5 * H;
  check_rows(h, B, H, "episodic_lstm_step h"), check_rows(c, B, H, "episodic_lstm_step c");
  check_rows(m, B, H, "episodic_lstm_step m");
  check_rows(w_x, I, G, "episodic_lstm_step w_x"), check_rows(w_h, H, G, "episodic_lstm_step w_h");
  if (bias.size() != G) throw std::invalid_argument("episodic_lstm_step: a bias of 5H expected");
  std::vector<float> a(B * G), ah(B * G), tg(B * H), tm(m.data(), m.data() + B * H);
  det::gemm(x.data(), I, w_x.data(), G, a.data(), G, B, I, G, false);
  det::gemm(h.data(), H, w_h.data(), G, ah.data(), G, B, H, G, false);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < G; ++j) a[b * G + j] += ah[b * G + j], a[b * G + j] += bias.data()[j];
  for (int64_t b = 0; b < B; ++b) {
    det::sigmoid_n(a.data() + b * G, 4 * H);
    std::copy(a.data() + b * G + 4 * H, a.data() + (b + 1) * G, tg.begin() + b * H);
  }
  det::tanh_n(tg.data(), B * H);
  det::tanh_n(tm.data(), B * H);
  Array h_out({B, H}), c_out({B, H});
  float *ho = h_out.mutable_data(), *co = c_out.mutable_data();
  for (int64_t b = 0; b < B; ++b) {
    const float* s = a.data() + b * G;
    for (int64_t j = 0; j < H; ++j)
      co[b * H + j] = s[H + j] * c.data()[b * H + j] + s[j] * tg[b * H + j] + s[3 * H + j] * tm[b * H + j];
  }
  hidden_from_cell(co, a.data() + 2 * H, G, B, H, ho);
  return py::make_tuple(h_out, c_out);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("mm", &mm);
  m.def("sigmoid", [](const Array& x) { return map(x, det::sigmoid_n); });
  m.def("tanh", [](const Array& x) { return map(x, det::tanh_n); });
  m.def("gumbel", [](const Array& u) { return map(u, gumbel_n); });
  m.def("knn_read", &knn_read);
  m.def("lstm_step", &lstm_step);
  m.def("gru_step", &gru_step);
  m.def("episodic_lstm_step", &episodic_lstm_step);
}
