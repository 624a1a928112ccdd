// One A2C update of an LSTM agent in one call: act B episodes, then backpropagate through time.
//
// Why: in Python every trial of the acting pass and every op of the learning pass pays an
// interpreter + dispatch toll of microseconds, which at these sizes (B x 48 x 192 matmuls)
// dominates the arithmetic. Here the trial loop runs in C++, the matmuls go to ATen (MKL / oneDNN),
// the pointwise work is plain loops, and the forward activations of the acting pass are kept for
// the backward pass instead of being recomputed by a replay. Results equal the Python path
// (NumPy acting + nn.LSTM replay + autograd) within float32 rounding (tests/test_fused.py).
//
// The agent: input row [obs (D) | previous action one-hot (k) | previous reward], either meta
// part optional (column -1 when absent), zero on the first trial; LSTM core (torch's gate order
// i, f, g, o); linear policy and value heads. The task is open-loop: observations [T, B, D] and the
// reward every action would get [T, B, k] are known before acting (bandits). Actions are Gumbel-max
// samples on the given noise [T, B, k], as in the Python path.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

namespace {

// Carves [T, B, ...] buffers out of one workspace that lives across calls: fresh multi-megabyte
// buffers every update cost thousands of page faults (4,000 per update at B = 64, a fifth of its time).
struct Carver {
  at::Tensor workspace;
  int64_t offset = 0;
  at::Tensor take(at::IntArrayRef shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    auto view = workspace.narrow(0, offset, n).view(shape);
    offset += n;
    return view;
  }
};

// Row layout: step t's matmul operand is [x_t | 1 | h_{t-1}] (K = I + 1 + H columns), so one matmul
// with [W_ih | b | W_hh]^T gives the pre-activations, and one matmul over all steps gives the gradient
// of all three; h_t is written straight into row t + 1.
int64_t workspace_floats(int64_t T, int64_t B, int64_t H, int64_t I, int64_t k) {
  const int64_t G = 4 * H, K = I + 1 + H;
  return (T + 1) * B * K + T * B * (2 * G + 2 * H + H + 2 * (k + 1)) + 2 * B * H;
}

struct Forward {
  at::Tensor rows;     // [T + 1, B, K] row t: [x_t | 1 | h_{t-1}]; the last row's h is h_{T-1}
  at::Tensor gates;    // [T, B, 4H] i, f, o after the sigmoid, g after the tanh
  at::Tensor cells;    // [T, B, H]
  at::Tensor tanh_c;   // [T, B, H]
  at::Tensor heads;    // [T, B, k + 1] policy logits, then the value
  at::Tensor actions;  // [T, B] int64
  at::Tensor rewards;  // [T, B] float
};

// h_t for all t as a [T * B, H] view of the rows (row stride K)
at::Tensor hidden_of(const Forward& f, int64_t H) {
  const int64_t T = f.gates.size(0), B = f.gates.size(1), K = f.rows.size(2);
  return f.rows.narrow(0, 1, T).as_strided({T * B, H}, {K, 1}, f.rows.storage_offset() + B * K + (K - H));
}

Forward act(Carver& carve, const at::Tensor& w_ih, const at::Tensor& w_hh, const at::Tensor& bias,
            const at::Tensor& head_w, const at::Tensor& head_b, const at::Tensor& obs,
            const at::Tensor& reward_table, const at::Tensor& gumbel, int64_t action_col, int64_t reward_col) {
  const int64_t T = obs.size(0), B = obs.size(1), D = obs.size(2), k = reward_table.size(2);
  const int64_t H = w_hh.size(1), G = 4 * H, I = w_ih.size(1), K = I + 1 + H;
  auto f32 = obs.options();
  // tanh(x) = 2 sigmoid(2x) - 1: scaling the g columns by 2 (exact in floating point) lets one
  // vectorised sigmoid call cover all four gates.
  auto scale = at::ones({1, G}, f32);
  scale.narrow(1, 2 * H, H).fill_(2.0);
  auto weights = (at::cat({w_ih, bias.unsqueeze(1), w_hh}, 1).t() * scale).contiguous();  // [K, G]

  Forward f;
  f.rows = carve.take({T + 1, B, K});
  f.gates = carve.take({T, B, G});
  f.cells = carve.take({T, B, H});
  f.tanh_c = carve.take({T, B, H});
  f.heads = carve.take({T, B, k + 1});
  f.actions = at::empty({T, B}, obs.options().dtype(at::kLong));
  f.rewards = at::empty({T, B}, f32);
  auto twice_c = carve.take({B, H});
  auto head_w_t = head_w.t().contiguous();

  const float* HB = head_b.data_ptr<float>();
  const float* OBS = obs.data_ptr<float>();
  const float* R = reward_table.data_ptr<float>();
  const float* GU = gumbel.data_ptr<float>();
  float* ROWS = f.rows.data_ptr<float>();
  float* S = f.gates.data_ptr<float>();
  float* C = f.cells.data_ptr<float>();
  float* TC = f.tanh_c.data_ptr<float>();
  float* C2 = twice_c.data_ptr<float>();
  float* OUT = f.heads.data_ptr<float>();
  int64_t* A = f.actions.data_ptr<int64_t>();
  float* RW = f.rewards.data_ptr<float>();
  std::fill(ROWS, ROWS + B * K, 0.0f);  // h_{-1} = 0

  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) {  // x_t: observation, previous action and reward, then the 1
      float* x = ROWS + (t * B + b) * K;
      std::fill(x, x + I, 0.0f);
      std::copy(OBS + (t * B + b) * D, OBS + (t * B + b + 1) * D, x);
      if (t > 0 && action_col >= 0) x[action_col + A[(t - 1) * B + b]] = 1.0f;
      if (t > 0 && reward_col >= 0) x[reward_col] = RW[(t - 1) * B + b];
      x[I] = 1.0f;
    }
    auto s_t = f.gates.select(0, t);
    at::mm_out(s_t, f.rows.select(0, t), weights);
    at::sigmoid_(s_t);
    float* s = S + t * B * G;
    float* c = C + t * B * H;
    const float* c_prev = t > 0 ? C + (t - 1) * B * H : nullptr;
    for (int64_t b = 0; b < B; ++b) {
      float* sb = s + b * G;
      for (int64_t j = 0; j < H; ++j) {
        const float g = 2.0f * sb[2 * H + j] - 1.0f;
        sb[2 * H + j] = g;
        const float prev = c_prev ? c_prev[b * H + j] : 0.0f;
        const float cell = sb[H + j] * prev + sb[j] * g;
        c[b * H + j] = cell;
        C2[b * H + j] = 2.0f * cell;
      }
    }
    auto tanh_c_t = f.tanh_c.select(0, t);
    at::sigmoid_out(tanh_c_t, twice_c);  // tanh as 2 sigmoid(2c) - 1 again: ATen's tanh is 3x slower
    float* tc = TC + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      float* h = ROWS + ((t + 1) * B + b) * K + I + 1;
      for (int64_t j = 0; j < H; ++j) {
        tc[b * H + j] = 2.0f * tc[b * H + j] - 1.0f;
        h[j] = s[b * G + 3 * H + j] * tc[b * H + j];
      }
    }
    auto heads_t = f.heads.select(0, t);
    at::mm_out(heads_t, f.rows.select(0, t + 1).narrow(1, I + 1, H), head_w_t);
    // Gumbel-max: the first maximum of logits + noise, as numpy's argmax
    float* out = OUT + t * B * (k + 1);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t a = 0; a <= k; ++a) out[b * (k + 1) + a] += HB[a];
      int64_t best = 0;
      float best_value = out[b * (k + 1)] + GU[(t * B + b) * k];
      for (int64_t a = 1; a < k; ++a) {
        const float v = out[b * (k + 1) + a] + GU[(t * B + b) * k + a];
        if (v > best_value) best_value = v, best = a;
      }
      A[t * B + b] = best;
      RW[t * B + b] = R[(t * B + b) * k + best];
    }
  }
  return f;
}

// d loss / d (logits, value) of the A2C loss, and the loss parts (total, policy, value, entropy).
std::vector<double> loss_gradient(const Forward& f, at::Tensor& d_heads, double discount, double value_cost,
                                  double entropy_cost) {
  const int64_t T = f.heads.size(0), B = f.heads.size(1), K1 = f.heads.size(2), k = K1 - 1;
  const double n = static_cast<double>(T * B);
  const float* OUT = f.heads.data_ptr<float>();
  const float* RW = f.rewards.data_ptr<float>();
  const int64_t* A = f.actions.data_ptr<int64_t>();
  float* D = d_heads.data_ptr<float>();
  std::vector<float> returns(T * B);
  for (int64_t b = 0; b < B; ++b) {
    double running = 0.0;
    for (int64_t t = T - 1; t >= 0; --t) {
      running = RW[t * B + b] + discount * running;
      returns[t * B + b] = static_cast<float>(running);
    }
  }
  double policy = 0.0, value = 0.0, entropy = 0.0;
  std::vector<double> log_p(k);
  for (int64_t i = 0; i < T * B; ++i) {
    const float* z = OUT + i * K1;
    double top = z[0];
    for (int64_t a = 1; a < k; ++a) top = std::max(top, static_cast<double>(z[a]));
    double total = 0.0;
    for (int64_t a = 0; a < k; ++a) total += std::exp(z[a] - top);
    const double log_total = top + std::log(total);
    double h = 0.0;
    for (int64_t a = 0; a < k; ++a) {
      log_p[a] = z[a] - log_total;
      h -= std::exp(log_p[a]) * log_p[a];
    }
    const double v = z[k], advantage = returns[i] - v;
    const int64_t taken = A[i];
    policy -= log_p[taken] * advantage;
    value += 0.5 * advantage * advantage;
    entropy += h;
    for (int64_t a = 0; a < k; ++a) {
      const double p = std::exp(log_p[a]);
      const double d_policy = -advantage * ((a == taken ? 1.0 : 0.0) - p);
      const double d_entropy = entropy_cost * p * (log_p[a] + h);
      D[i * K1 + a] = static_cast<float>((d_policy + d_entropy) / n);
    }
    D[i * K1 + k] = static_cast<float>(value_cost * (v - returns[i]) / n);
  }
  policy /= n, value /= n, entropy /= n;
  return {policy + value_cost * value - entropy_cost * entropy, policy, value, entropy};
}

// Backpropagation through time from d (logits, value); returns d w_ih, d w_hh, d bias, d head_w, d head_b.
std::vector<at::Tensor> backward(Carver& carve, const Forward& f, const at::Tensor& d_heads, const at::Tensor& w_hh,
                                 const at::Tensor& head_w) {
  const int64_t T = f.gates.size(0), B = f.gates.size(1), H = w_hh.size(1), G = 4 * H, K1 = head_w.size(0);
  const int64_t K = f.rows.size(2), I = K - 1 - H;
  auto flat_d_heads = d_heads.view({T * B, K1});
  auto hidden = hidden_of(f, H);
  auto d_hidden_heads = carve.take({T * B, H});
  at::mm_out(d_hidden_heads, flat_d_heads, head_w);
  auto d_head_w = at::mm(flat_d_heads.t(), hidden);
  auto d_head_b = flat_d_heads.sum(0);
  auto d_gates = carve.take({T, B, G});
  auto d_hidden_rec = carve.take({B, H}).zero_();
  std::vector<float> d_cell(B * H, 0.0f);
  const float* DHH = d_hidden_heads.data_ptr<float>();
  float* DHR = d_hidden_rec.data_ptr<float>();
  const float* S = f.gates.data_ptr<float>();
  const float* C = f.cells.data_ptr<float>();
  const float* TC = f.tanh_c.data_ptr<float>();
  float* DG = d_gates.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const float* s = S + (t * B + b) * G;
      const float* tc = TC + (t * B + b) * H;
      const float* c_prev = t > 0 ? C + ((t - 1) * B + b) * H : nullptr;
      const float* dhh = DHH + (t * B + b) * H;
      float* dhr = DHR + b * H;
      float* dc = d_cell.data() + b * H;
      float* dg = DG + (t * B + b) * G;
      for (int64_t j = 0; j < H; ++j) {
        const float i = s[j], fg = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
        const float dh = dhh[j] + dhr[j];
        const float dcc = dc[j] + dh * o * (1.0f - tc[j] * tc[j]);
        const float prev = c_prev ? c_prev[j] : 0.0f;
        dg[j] = dcc * g * i * (1.0f - i);
        dg[H + j] = dcc * prev * fg * (1.0f - fg);
        dg[2 * H + j] = dcc * i * (1.0f - g * g);
        dg[3 * H + j] = dh * tc[j] * o * (1.0f - o);
        dc[j] = dcc * fg;
      }
    }
    if (t > 0) at::mm_out(d_hidden_rec, d_gates.select(0, t), w_hh);
  }
  // [x_t | 1 | h_{t-1}]^T d_gates_t summed over steps: the gradient of [W_ih | b | W_hh]^T in one matmul
  auto d_weights = at::mm(f.rows.narrow(0, 0, T).reshape({T * B, K}).t(), d_gates.view({T * B, G}));  // [K, G]
  return {d_weights.narrow(0, 0, I).t().contiguous(), d_weights.narrow(0, I + 1, H).t().contiguous(),
          d_weights.select(0, I).clone(), d_head_w, d_head_b};
}

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device().is_cpu(), name,
              " must be a contiguous float32 CPU tensor");
}

// workspace: a float32 tensor kept by the caller across calls, grown here as needed.
// learn = false: acting only -> [actions, rewards].
// learn = true: [actions, rewards, losses (total, policy, value, entropy) float64,
//                d w_ih, d w_hh, d bias (for b_ih and b_hh alike), d head_w, d head_b].
std::vector<at::Tensor> lstm_a2c(at::Tensor& workspace, const at::Tensor& w_ih, const at::Tensor& w_hh, const at::Tensor& bias,
                                 const at::Tensor& head_w, const at::Tensor& head_b, const at::Tensor& obs,
                                 const at::Tensor& reward_table, const at::Tensor& gumbel, int64_t action_col,
                                 int64_t reward_col, double discount, double value_cost, double entropy_cost,
                                 bool learn) {
  for (auto [t, name] : {std::pair{&w_ih, "w_ih"}, {&w_hh, "w_hh"}, {&bias, "bias"}, {&head_w, "head_w"},
                         {&head_b, "head_b"}, {&obs, "obs"}, {&reward_table, "reward_table"}, {&gumbel, "gumbel"}})
    check(*t, name);
  at::NoGradGuard no_grad;
  const int64_t need = workspace_floats(obs.size(0), obs.size(1), w_hh.size(1), w_ih.size(1), reward_table.size(2));
  if (workspace.numel() < need) workspace.resize_({need});
  Carver carve{workspace};
  Forward f = act(carve, w_ih, w_hh, bias, head_w, head_b, obs, reward_table, gumbel, action_col, reward_col);
  if (!learn) return {f.actions, f.rewards};
  auto d_heads = carve.take(f.heads.sizes());
  auto losses = loss_gradient(f, d_heads, discount, value_cost, entropy_cost);
  auto grads = backward(carve, f, d_heads, w_hh, head_w);
  std::vector<at::Tensor> out = {f.actions, f.rewards, at::tensor(losses, at::kDouble)};
  out.insert(out.end(), grads.begin(), grads.end());
  return out;
}

}  // namespace

TORCH_LIBRARY(evo_fastslow, m) {
  m.def("lstm_a2c(Tensor(a!) workspace, Tensor w_ih, Tensor w_hh, Tensor bias, Tensor head_w, Tensor head_b, Tensor obs, "
        "Tensor reward_table, Tensor gumbel, int action_col, int reward_col, float discount, "
        "float value_cost, float entropy_cost, bool learn) -> Tensor[]",
        &lstm_a2c);
}
