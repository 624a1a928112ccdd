// One A2C update of a recurrent agent in one call: act B episodes, then backpropagate through time.
//
// Why: in Python every trial of the acting pass and every op of the learning pass pays an
// interpreter + dispatch toll of microseconds, which at these sizes (B x 48 x 192 matmuls)
// dominates the arithmetic. Here the trial loop runs in C++, and the forward activations of the
// acting pass are kept for the backward pass instead of being recomputed by a replay. All arithmetic
// is det_math's (the same bits on every CPU) unless `native` is set, which sends the matmuls and
// sigmoids to ATen (MKL / oneDNN: faster on some CPUs, different numbers on others). Results equal the
// Python path's within float32 rounding (tests/test_fused.py).
//
// The agent: input row x = [obs (D) | previous action one-hot (k) | previous reward], either meta
// part optional (column -1 when absent), zero on the first trial; an LSTM or GRU core; linear policy
// and value heads. Step t's matmul operand is the row [x_t | 1 | h_{t-1}] (K = I + 1 + H columns):
// one matmul with `weights` [K, 4H] (arranged by lifetime/fused.py) gives the pre-activations, one
// matmul over all steps gives d loss / d weights; h_t is written straight into row t + 1.
//   LSTM: columns i, f, g, o, the g columns scaled by 2 so that one sigmoid covers all four gates
//         (tanh(x) = 2 sigmoid(2x) - 1; scaling by 2 is exact).
//   GRU:  columns r, z, n_x (the input's part of n), n_h (the hidden state's part, gated by r).
// The task comes as pre-drawn tables over S states (tasks/base.py: Tables): in state s at step t the
// observation is obs[t, b, s] [D], action a earns reward[t, b, s, a] and leads to next_state[t, b, s, a];
// every episode starts in state 0 (bandits: one state; two-step: three). Actions are Gumbel-max
// samples on the given noise [T, B, k].

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <optional>
#include <vector>

#include "det_math.h"
#include "ops.h"

namespace evo {
namespace {

enum Cell : int64_t { LSTM = 0, GRU = 1 };

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

// T: the steps a call runs (with a bootstrap step, one more than it acts).
int64_t workspace_floats(int64_t T, int64_t B, int64_t H, int64_t K, int64_t k) {
  const int64_t G = 4 * H;
  return (T + 1) * B * K + T * B * (2 * G + 3 * H + 2 * (k + 1)) + 6 * B * H;
}

struct Forward {
  at::Tensor rows;     // [T + 1, B, K] row t: [x_t | 1 | h_{t-1}]; the last row's h is h_{T-1}
  at::Tensor gates;    // [T, B, 4H] LSTM: i, f, g, o activated; GRU: r, z, n activated, then n_h
  at::Tensor cells;    // [T, B, H] LSTM: the cell state
  at::Tensor tanh_c;   // [T, B, H] LSTM: tanh of the cell state
  at::Tensor heads;    // [T, B, k + 1] policy logits, then the value
  at::Tensor actions;  // [T, B] int64
  at::Tensor rewards;  // [T, B] float
  at::Tensor c0;       // [B, H] LSTM: the cell state before step 0 (undefined: zero, an episode's start)
  at::Tensor bootstrap;  // [B] the value one step past the last (undefined: none, the episode ends there)
};

// Where a stretch of episodes starts (an update within an episode, lifetime/truncated.py), and where it
// ends: written back in place. h, c [B, H]: the core's state after the previous step; state [B] (int64):
// the task's state; action [B] (int64, -1 at an episode's start) and reward [B]: the previous step's.
struct Carry {
  at::Tensor h, c, state, action, reward;
};

const float* initial_cell(const Forward& f, int64_t t) {
  return t > 0 ? f.cells.select(0, t - 1).data_ptr<float>() : (f.c0.defined() ? f.c0.data_ptr<float>() : nullptr);
}

// tanh through the sigmoid (as det::tanh; ATen's tanh costs 3x a sigmoid per element):
// out = 2 sigmoid(2x) - 1, where `twice` holds 2x on entry.
void tanh_via_sigmoid(at::Tensor& out, const at::Tensor& twice, bool native) {
  out.copy_(twice);
  sigmoid_rows(out, out.size(1), native);
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < out.numel(); ++i) o[i] = 2.0f * o[i] - 1.0f;
}

// One LSTM step's activations from its pre-activations (in gates_t), writing h_t into `h_out` rows.
void lstm_step(Forward& f, int64_t t, at::Tensor& twice, float* h_out, int64_t row_stride, bool native) {
  const int64_t B = f.gates.size(1), G = f.gates.size(2), H = G / 4;
  auto s_t = f.gates.select(0, t);
  sigmoid_rows(s_t, G, native);
  float* s = s_t.data_ptr<float>();
  float* c = f.cells.select(0, t).data_ptr<float>();
  const float* c_prev = initial_cell(f, t);
  float* c2 = twice.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    float* sb = s + b * G;
    for (int64_t j = 0; j < H; ++j) {
      const float g = 2.0f * sb[2 * H + j] - 1.0f;
      sb[2 * H + j] = g;
      const float prev = c_prev ? c_prev[b * H + j] : 0.0f;
      const float cell = sb[H + j] * prev + sb[j] * g;
      c[b * H + j] = cell;
      c2[b * H + j] = 2.0f * cell;
    }
  }
  auto tanh_c_t = f.tanh_c.select(0, t);
  tanh_via_sigmoid(tanh_c_t, twice, native);
  const float* tc = tanh_c_t.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) h_out[b * row_stride + j] = s[b * G + 3 * H + j] * tc[b * H + j];
}

// One GRU step: r, z = sigmoid; n = tanh(n_x + r n_h); h_t = (1 - z) n + z h_{t-1}.
void gru_step(Forward& f, int64_t t, at::Tensor& twice, at::Tensor& n_t, const float* h_prev, float* h_out,
              int64_t row_stride, bool native) {
  const int64_t B = f.gates.size(1), G = f.gates.size(2), H = G / 4;
  auto s_t = f.gates.select(0, t);
  sigmoid_rows(s_t, 2 * H, native);
  float* s = s_t.data_ptr<float>();
  float* a2 = twice.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) a2[b * H + j] = 2.0f * (s[b * G + 2 * H + j] + s[b * G + j] * s[b * G + 3 * H + j]);
  tanh_via_sigmoid(n_t, twice, native);
  const float* n = n_t.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    float* sb = s + b * G;
    for (int64_t j = 0; j < H; ++j) {
      const float z = sb[H + j], nj = n[b * H + j];
      sb[2 * H + j] = nj;
      h_out[b * row_stride + j] = (1.0f - z) * nj + z * h_prev[b * row_stride + j];
    }
  }
}

// Step t of the recurrence: pre-activations from row t ([x_t | 1 | h_{t-1}]), then the cell, which
// writes h_t into row t + 1. `twice` and `n_t` are [B, H] scratch.
void cell_step(Forward& f, Cell cell, int64_t t, const at::Tensor& weights, at::Tensor& twice, at::Tensor& n_t,
               bool native) {
  const int64_t B = f.rows.size(1), K = f.rows.size(2), H = f.gates.size(2) / 4, I = K - 1 - H;
  float* ROWS = f.rows.data_ptr<float>();
  auto s_t = f.gates.select(0, t);
  mm(s_t, f.rows.select(0, t), weights, native);
  float* h_out = ROWS + (t + 1) * B * K + I + 1;
  if (cell == LSTM)
    lstm_step(f, t, twice, h_out, K, native);
  else
    gru_step(f, t, twice, n_t, ROWS + t * B * K + I + 1, h_out, K, native);
}

// Acts steps start .. start + T - 1 of the episodes from `carry` (updated in place). With `bootstrap`, also
// runs step start + T's core and heads without acting (the value an update within an episode bootstraps
// from): its activations sit one step past the returned Forward's, in the same buffers.
Forward act(Carver& carve, Cell cell, const at::Tensor& weights, const at::Tensor& head_w, const at::Tensor& head_b,
            const at::Tensor& obs, const at::Tensor& reward_table, const at::Tensor& next_state,
            const at::Tensor& gumbel, int64_t action_col, int64_t reward_col, bool native, int64_t start, int64_t T,
            Carry& carry, bool bootstrap) {
  const int64_t B = obs.size(1), S = obs.size(2), D = obs.size(3), k = reward_table.size(3);
  const int64_t K = weights.size(0), G = weights.size(1), H = G / 4, I = K - 1 - H, run = T + (bootstrap ? 1 : 0);
  auto f32 = obs.options();
  Forward f;
  f.rows = carve.take({run + 1, B, K});
  f.gates = carve.take({run, B, G});
  f.cells = carve.take({run, B, H});
  f.tanh_c = carve.take({run, B, H});
  f.heads = carve.take({run, B, k + 1});
  f.actions = at::empty({T, B}, obs.options().dtype(at::kLong));
  f.rewards = at::empty({T, B}, f32);
  auto twice = carve.take({B, H});
  auto n_t = carve.take({B, H});
  auto head_w_t = head_w.t().contiguous();

  const float* HB = head_b.data_ptr<float>();
  const float* OBS = obs.data_ptr<float>();
  const float* R = reward_table.data_ptr<float>();
  const int64_t* NS = next_state.data_ptr<int64_t>();
  const float* GU = gumbel.data_ptr<float>();
  float* ROWS = f.rows.data_ptr<float>();
  float* OUT = f.heads.data_ptr<float>();
  int64_t* A = f.actions.data_ptr<int64_t>();
  float* RW = f.rewards.data_ptr<float>();
  float* CH = carry.h.data_ptr<float>();
  int64_t* STATE = carry.state.data_ptr<int64_t>();
  int64_t* LAST_A = carry.action.data_ptr<int64_t>();
  float* LAST_R = carry.reward.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b)  // h_{-1}: zero at an episode's start, else where the last stretch left it
    for (int64_t j = 0; j < H; ++j) ROWS[b * K + I + 1 + j] = start > 0 ? CH[b * H + j] : 0.0f;
  if (cell == LSTM && start > 0) f.c0 = carve.take({B, H}).copy_(carry.c);

  for (int64_t t = 0; t < run; ++t) {
    const int64_t step = start + t;  // the episode's step (the tables' row)
    for (int64_t b = 0; b < B; ++b) {  // x_t: observation, previous action and reward, then the 1
      float* x = ROWS + (t * B + b) * K;
      std::fill(x, x + I, 0.0f);
      const float* o = OBS + ((step * B + b) * S + STATE[b]) * D;
      std::copy(o, o + D, x);
      const int64_t last_a = t > 0 ? A[(t - 1) * B + b] : (start > 0 ? LAST_A[b] : -1);
      const float last_r = t > 0 ? RW[(t - 1) * B + b] : LAST_R[b];
      if (last_a >= 0 && action_col >= 0) x[action_col + last_a] = 1.0f;
      if (last_a >= 0 && reward_col >= 0) x[reward_col] = last_r;
      x[I] = 1.0f;
    }
    cell_step(f, cell, t, weights, twice, n_t, native);
    auto heads_t = f.heads.select(0, t);
    mm(heads_t, f.rows.select(0, t + 1).narrow(1, I + 1, H), head_w_t, native);
    float* out = OUT + t * B * (k + 1);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t a = 0; a <= k; ++a) out[b * (k + 1) + a] += HB[a];
    if (t == T) break;  // the bootstrap step: its value only, no action
    // Gumbel-max: the first maximum of logits + noise, as numpy's argmax
    for (int64_t b = 0; b < B; ++b) {
      int64_t best = 0;
      float best_value = out[b * (k + 1)] + GU[(step * B + b) * k];
      for (int64_t a = 1; a < k; ++a) {
        const float v = out[b * (k + 1) + a] + GU[(step * B + b) * k + a];
        if (v > best_value) best_value = v, best = a;
      }
      const int64_t cell_index = ((step * B + b) * S + STATE[b]) * k + best;
      A[t * B + b] = best;
      RW[t * B + b] = R[cell_index];
      STATE[b] = NS[cell_index];
    }
  }
  for (int64_t b = 0; b < B; ++b) {  // where the next stretch starts: h_{T-1} (row T), c_{T-1}, the last step
    for (int64_t j = 0; j < H; ++j) CH[b * H + j] = ROWS[(T * B + b) * K + I + 1 + j];
    LAST_A[b] = A[(T - 1) * B + b];
    LAST_R[b] = RW[(T - 1) * B + b];
  }
  if (cell == LSTM) carry.c.copy_(f.cells.select(0, T - 1));
  if (bootstrap) {  // the returned activations cover the T acted steps only
    f.bootstrap = f.heads.select(0, T).select(1, k).contiguous();
    f.rows = f.rows.narrow(0, 0, T + 1);
    for (auto* buffer : {&f.gates, &f.cells, &f.tanh_c, &f.heads}) *buffer = buffer->narrow(0, 0, T);
  }
  return f;
}

// d loss / d pre-activations of step t (into dg, unscaled), from dh = d loss / d h_t; d_cell carries the
// LSTM's cell state gradient; the GRU's dh_direct the part of d loss / d h_{t-1} that bypasses the matmul.
void lstm_backward_step(const Forward& f, int64_t t, const float* dh_total, float* d_cell, float* dg) {
  const int64_t B = f.gates.size(1), G = f.gates.size(2), H = G / 4;
  const float* S = f.gates.select(0, t).data_ptr<float>();
  const float* TC = f.tanh_c.select(0, t).data_ptr<float>();
  const float* C_prev = initial_cell(f, t);
  for (int64_t b = 0; b < B; ++b) {
    const float* s = S + b * G;
    const float* tc = TC + b * H;
    const float* dh = dh_total + b * H;
    float* dc = d_cell + b * H;
    float* d = dg + b * G;
    for (int64_t j = 0; j < H; ++j) {
      const float i = s[j], fg = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
      const float dcc = dc[j] + dh[j] * o * (1.0f - tc[j] * tc[j]);
      const float prev = C_prev ? C_prev[b * H + j] : 0.0f;
      d[j] = dcc * g * i * (1.0f - i);
      d[H + j] = dcc * prev * fg * (1.0f - fg);
      d[2 * H + j] = dcc * i * (1.0f - g * g);
      d[3 * H + j] = dh[j] * tc[j] * o * (1.0f - o);
      dc[j] = dcc * fg;
    }
  }
}

void gru_backward_step(const Forward& f, int64_t t, const float* dh_total, float* dh_direct, float* dg) {
  const int64_t B = f.gates.size(1), G = f.gates.size(2), H = G / 4, K = f.rows.size(2);
  const float* S = f.gates.select(0, t).data_ptr<float>();
  const float* H_prev = f.rows.select(0, t).data_ptr<float>() + (K - H);
  for (int64_t b = 0; b < B; ++b) {
    const float* s = S + b * G;
    const float* h_prev = H_prev + b * K;
    const float* dh = dh_total + b * H;
    float* d = dg + b * G;
    for (int64_t j = 0; j < H; ++j) {
      const float r = s[j], z = s[H + j], n = s[2 * H + j], n_h = s[3 * H + j];
      const float da = dh[j] * (1.0f - z) * (1.0f - n * n);  // a = n_x + r n_h, n = tanh(a)
      d[j] = da * n_h * r * (1.0f - r);
      d[H + j] = dh[j] * (h_prev[j] - n) * z * (1.0f - z);
      d[2 * H + j] = da;
      d[3 * H + j] = da * r;
      dh_direct[b * H + j] = dh[j] * z;
    }
  }
}

// Backpropagation through time from d loss / d h_t [T * B, H] (from the heads, or from autograd):
// returns d loss / d pre-activations [T, B, 4H] (carved) and d weights [K, 4H] (d w.r.t. the unscaled
// LSTM g columns, as torch's weights are).
std::pair<at::Tensor, at::Tensor> bptt(Carver& carve, Cell cell, const Forward& f, const at::Tensor& d_hidden_out,
                                       const at::Tensor& weights, bool native) {
  const int64_t T = f.gates.size(0), B = f.gates.size(1), G = f.gates.size(2), H = G / 4;
  const int64_t K = f.rows.size(2);
  auto d_gates = carve.take({T, B, G});
  auto d_hidden = carve.take({B, H}).zero_();  // d loss / d h_t through the recurrence
  auto dh_direct = carve.take({B, H});
  auto dh_total = carve.take({B, H});
  auto w_hidden_t = weights.narrow(0, K - H, H).t().contiguous();  // [4H, H]: how h_{t-1} entered step t
  if (cell == LSTM) w_hidden_t.narrow(0, 2 * H, H).mul_(0.5);  // undo the g columns' scaling (exact)
  std::vector<float> d_cell(B * H, 0.0f);
  const float* DHH = d_hidden_out.data_ptr<float>();
  float* DH = d_hidden.data_ptr<float>();
  float* DHT = dh_total.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t i = 0; i < B * H; ++i) DHT[i] = DHH[t * B * H + i] + DH[i];
    auto d_gates_t = d_gates.select(0, t);
    if (cell == LSTM) {
      lstm_backward_step(f, t, DHT, d_cell.data(), d_gates_t.data_ptr<float>());
      if (t > 0) mm(d_hidden, d_gates_t, w_hidden_t, native);
    } else {
      gru_backward_step(f, t, DHT, dh_direct.data_ptr<float>(), d_gates_t.data_ptr<float>());
      if (t > 0) {
        d_hidden.copy_(dh_direct);
        mm(d_hidden, d_gates_t, w_hidden_t, native, /*accumulate=*/true);
      }
    }
  }
  // sum over steps of [x_t | 1 | h_{t-1}]^T d_gates_t: the gradient of every recurrent weight in one matmul
  auto d_weights = at::empty({K, G}, weights.options());
  mm_tn(d_weights, f.rows.narrow(0, 0, T).reshape({T * B, K}), d_gates.view({T * B, G}), native);
  return {d_gates, d_weights};
}

// h_t [T * B, H], a view of the rows (row t + 1 holds h_t).
at::Tensor hidden_view(const Forward& f) {
  const int64_t T = f.gates.size(0), B = f.gates.size(1), H = f.gates.size(2) / 4, K = f.rows.size(2);
  return f.rows.narrow(0, 1, T).as_strided({T * B, H}, {K, 1}, f.rows.storage_offset() + B * K + (K - H));
}

// The heads' backward, then BPTT: returns d weights [K, 4H], d head_w, d head_b.
std::vector<at::Tensor> backward(Carver& carve, Cell cell, const Forward& f, const at::Tensor& d_heads,
                                 const at::Tensor& weights, const at::Tensor& head_w, bool native) {
  const int64_t T = f.gates.size(0), B = f.gates.size(1), H = f.gates.size(2) / 4, K1 = head_w.size(0);
  auto flat_d_heads = d_heads.view({T * B, K1});
  auto d_hidden_heads = carve.take({T * B, H});
  mm(d_hidden_heads, flat_d_heads, head_w, native);
  auto d_head_w = at::empty({K1, H}, head_w.options());
  mm_tn(d_head_w, flat_d_heads, hidden_view(f), native);
  auto d_head_b = at::zeros({K1}, head_w.options());  // summed over steps and episodes in order
  float* DHB = d_head_b.data_ptr<float>();
  const float* FDH = flat_d_heads.data_ptr<float>();
  for (int64_t i = 0; i < T * B; ++i)
    for (int64_t a = 0; a < K1; ++a) DHB[a] += FDH[i * K1 + a];
  auto d_weights = bptt(carve, cell, f, d_hidden_heads, weights, native).second;
  return {d_weights, d_head_w, d_head_b};
}

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device().is_cpu(), name,
              " must be a contiguous float32 CPU tensor");
}

enum Bonus : int64_t { NO_BONUS = 0, NOVELTY = 1, SURPRISE = 2, INFORMATION = 3 };

// The rewards the loss trains on: the task's plus the intrinsic bonus (lifetime/intrinsic.py), step by
// step from the episode's per-action counts and reward sums so far (counts [B, k] int64, earned [B, k]
// float64: carried across the stretches of an episode, zero at its start). The same float64 operations
// in the same order as intrinsic.bonus's NumPy, so both engines train on the same bits.
at::Tensor shaped_rewards(const Forward& f, int64_t kind, double weight, int64_t T, int64_t B, int64_t k,
                          int64_t* counts, double* earned) {
  auto shaped = at::empty_like(f.rewards);
  const int64_t* A = f.actions.data_ptr<int64_t>();
  const float* RW = f.rewards.data_ptr<float>();
  float* out = shaped.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) {
      const int64_t i = t * B + b, a = A[i];
      const double r = RW[i];
      const int64_t n = ++counts[b * k + a];  // this action's count, this time included
      const double sum = (earned[b * k + a] += r);
      double bonus;
      if (kind == NOVELTY) {
        bonus = weight / std::sqrt(static_cast<double>(n));
      } else {
        const int64_t seen = n - 1;
        const double before = sum - r;
        const double error = std::fabs(r - (seen > 0 ? before / static_cast<double>(seen) : 0.0));
        bonus = kind == SURPRISE ? weight * error : weight * error / static_cast<double>(n);
      }
      out[i] = RW[i] + static_cast<float>(bonus);
    }
  return shaped;
}

// workspace: a float32 tensor kept by the caller across calls, grown here as needed.
// Runs steps start .. start + steps - 1 of the tables' episodes (all of them: start 0, steps T) from the
// carry (h, c [B, H], state, action [B] int64, reward [B]), which it leaves where the steps end. Learning
// on a stretch that ends before the episode does bootstraps the returns from the value one step on.
// learn = false: acting only -> [actions, rewards].
// learn = true: [actions, rewards, losses (total, policy, value, entropy) float64, d weights, d head_w, d head_b];
// the loss trains on the rewards plus the intrinsic bonus `bonus_kind` (Bonus) at `bonus_weight`, whose
// per-action counts and sums the carry (counts, earned [B, k]) holds; the returned rewards are the task's.
std::vector<at::Tensor> recurrent_a2c(at::Tensor& workspace, int64_t cell, const at::Tensor& weights,
                                      const at::Tensor& head_w, const at::Tensor& head_b, const at::Tensor& obs,
                                      const at::Tensor& reward_table, const at::Tensor& next_state,
                                      const at::Tensor& gumbel, int64_t action_col, int64_t reward_col,
                                      double discount, double value_cost, double entropy_cost,
                                      double gae_lambda, bool normalize, bool learn, bool native, int64_t start,
                                      int64_t steps, at::Tensor& carry_h, at::Tensor& carry_c,
                                      at::Tensor& carry_state, at::Tensor& carry_action, at::Tensor& carry_reward,
                                      int64_t bonus_kind, double bonus_weight, at::Tensor& carry_counts,
                                      at::Tensor& carry_earned) {
  for (auto [t, name] : {std::pair{&weights, "weights"}, {&head_w, "head_w"}, {&head_b, "head_b"}, {&obs, "obs"},
                         {&reward_table, "reward_table"}, {&gumbel, "gumbel"}})
    check(*t, name);
  TORCH_CHECK(next_state.scalar_type() == at::kLong && next_state.is_contiguous() &&
                  next_state.sizes() == reward_table.sizes(),
              "next_state must be a contiguous int64 tensor shaped as reward_table");
  TORCH_CHECK(cell == LSTM || cell == GRU, "cell must be 0 (LSTM) or 1 (GRU)");
  TORCH_CHECK(weights.size(1) % 4 == 0 && weights.size(1) / 4 == head_w.size(1), "weights must be [K, 4H]");
  TORCH_CHECK(obs.dim() == 4 && reward_table.dim() == 4 && gumbel.dim() == 3, "obs [T, B, S, D], reward_table "
              "[T, B, S, k] and gumbel [T, B, k] expected");
  const int64_t T = obs.size(0), B = obs.size(1), S = obs.size(2), k = reward_table.size(3), H = head_w.size(1);
  const int64_t I = weights.size(0) - 1 - H;  // input columns
  TORCH_CHECK(reward_table.size(0) == T && reward_table.size(1) == B && reward_table.size(2) == S &&
                  gumbel.size(0) == T && gumbel.size(1) == B && gumbel.size(2) == k && head_w.size(0) == k + 1 &&
                  head_b.size(0) == k + 1,
              "obs [T, B, S, D], reward_table and gumbel [T, B, (S,) k], heads [k + 1, H] expected");
  TORCH_CHECK(obs.size(3) <= I && action_col + (action_col >= 0 ? k : 0) <= I && reward_col < I,
              "the input columns (obs, action one-hot, reward) do not fit the weights' rows");
  TORCH_CHECK(next_state.numel() == 0 || (next_state.min().item<int64_t>() >= 0 && next_state.max().item<int64_t>() < S),
              "next_state must name states 0 .. S-1");
  TORCH_CHECK(start >= 0 && steps >= 1 && start + steps <= T, "steps start .. start + steps - 1 must lie in 0 .. T-1");
  check(carry_h, "carry_h"), check(carry_c, "carry_c"), check(carry_reward, "carry_reward");
  TORCH_CHECK(carry_h.sizes() == carry_c.sizes() && carry_h.dim() == 2 && carry_h.size(0) == B &&
                  carry_h.size(1) == H && carry_reward.dim() == 1 && carry_reward.size(0) == B,
              "carry_h, carry_c [B, H] and carry_reward [B] expected");
  for (auto* t : {&carry_state, &carry_action})
    TORCH_CHECK(t->scalar_type() == at::kLong && t->is_contiguous() && t->dim() == 1 && t->size(0) == B,
                "carry_state and carry_action: contiguous int64 [B] expected");
  TORCH_CHECK(bonus_kind >= NO_BONUS && bonus_kind <= INFORMATION, "bonus_kind must be 0 .. 3");
  TORCH_CHECK(carry_counts.scalar_type() == at::kLong && carry_counts.is_contiguous() &&
                  carry_earned.scalar_type() == at::kDouble && carry_earned.is_contiguous() &&
                  carry_counts.sizes() == carry_earned.sizes() && carry_counts.dim() == 2 &&
                  carry_counts.size(0) == B && carry_counts.size(1) == k,
              "carry_counts (int64) and carry_earned (float64): contiguous [B, k] expected");
  if (start == 0) carry_state.zero_();  // every episode starts in state 0
  TORCH_CHECK(carry_state.min().item<int64_t>() >= 0 && carry_state.max().item<int64_t>() < S,
              "carry_state must name states 0 .. S-1");
  at::NoGradGuard no_grad;
  const bool bootstrap = learn && start + steps < T;
  const int64_t need = workspace_floats(steps + 1, B, H, weights.size(0), k);
  if (workspace.numel() < need) workspace.resize_({need});
  Carver carve{workspace};
  Carry carry{carry_h, carry_c, carry_state, carry_action, carry_reward};
  Forward f = act(carve, static_cast<Cell>(cell), weights, head_w, head_b, obs, reward_table, next_state, gumbel,
                  action_col, reward_col, native, start, steps, carry, bootstrap);
  if (!learn) return {f.actions, f.rewards};
  if (start == 0) carry_counts.zero_(), carry_earned.zero_();  // an episode's counts start at its start
  const at::Tensor trained_on = bonus_kind == NO_BONUS ? f.rewards : shaped_rewards(
      f, bonus_kind, bonus_weight, steps, B, k, carry_counts.data_ptr<int64_t>(), carry_earned.data_ptr<double>());
  auto d_heads = carve.take(f.heads.sizes());
  auto losses = a2c_loss_gradient(f.heads.data_ptr<float>(), f.actions.data_ptr<int64_t>(),
                                  trained_on.data_ptr<float>(), steps, B, k, d_heads.data_ptr<float>(), discount,
                                  value_cost, entropy_cost, gae_lambda, normalize,
                                  bootstrap ? f.bootstrap.data_ptr<float>() : nullptr);
  auto grads = backward(carve, static_cast<Cell>(cell), f, d_heads, weights, head_w, native);
  std::vector<at::Tensor> out = {f.actions, f.rewards, at::tensor(losses, at::kDouble)};
  out.insert(out.end(), grads.begin(), grads.end());
  return out;
}


// The Python path's replay of a recorded sequence x [T, B, I] through the same cell code, from the zero
// state or from h0 (and, for an LSTM, c0) [B, H]: returns [h [T, B, H], rows, gates, cells, tanh_c] (the
// last four for rnn_backward; c_{T-1} is cells[T - 1]).
std::vector<at::Tensor> rnn_forward(int64_t cell, const at::Tensor& weights, const at::Tensor& x, bool native,
                                    const std::optional<at::Tensor>& h0, const std::optional<at::Tensor>& c0) {
  check(weights, "weights");
  check(x, "x");
  TORCH_CHECK(cell == LSTM || cell == GRU, "cell must be 0 (LSTM) or 1 (GRU)");
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), K = weights.size(0), G = weights.size(1), H = G / 4;
  TORCH_CHECK(x.dim() == 3 && G % 4 == 0 && K == I + 1 + H, "x [T, B, I] and weights [I + 1 + H, 4H] expected");
  Forward f;
  f.rows = at::zeros({T + 1, B, K}, x.options());
  f.rows.narrow(0, 0, T).narrow(2, 0, I).copy_(x);
  f.rows.narrow(0, 0, T).select(2, I).fill_(1.0f);
  f.gates = at::empty({T, B, G}, x.options());
  f.cells = at::empty({T, B, H}, x.options());
  f.tanh_c = at::empty({T, B, H}, x.options());
  if (h0.has_value()) f.rows.select(0, 0).narrow(1, I + 1, H).copy_(*h0);
  if (cell == LSTM && c0.has_value()) f.c0 = c0->contiguous();
  auto twice = at::empty({B, H}, x.options()), n_t = at::empty({B, H}, x.options());
  for (int64_t t = 0; t < T; ++t) cell_step(f, static_cast<Cell>(cell), t, weights, twice, n_t, native);
  auto h = hidden_view(f).contiguous().view({T, B, H});
  return {h, f.rows, f.gates, f.cells, f.tanh_c};  // (rows[0] holds h0, for the backward pass)
}

// d loss / d h [T, B, H] -> [d weights (w.r.t. the weights as given, g columns scaled), d x [T, B, I]].
// c0: the LSTM's initial cell state, as given to rnn_forward (none: zero). No gradient flows into h0 or c0:
// a stretch of an episode backpropagates to its own start only (truncated BPTT).
std::vector<at::Tensor> rnn_backward(int64_t cell, const at::Tensor& weights, const at::Tensor& rows,
                                     const at::Tensor& gates, const at::Tensor& cells, const at::Tensor& tanh_c,
                                     const at::Tensor& d_h, bool native, const std::optional<at::Tensor>& c0) {
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 4, K = rows.size(2), I = K - 1 - H;
  Forward f;
  f.rows = rows, f.gates = gates, f.cells = cells, f.tanh_c = tanh_c;
  if (cell == LSTM && c0.has_value()) f.c0 = c0->contiguous();
  auto workspace = at::empty({T * B * G + 3 * B * H}, weights.options());
  Carver carve{workspace};
  auto dh = d_h.contiguous().view({T * B, H});
  auto [d_gates, d_weights] = bptt(carve, static_cast<Cell>(cell), f, dh, weights, native);
  auto w_input_t = weights.narrow(0, 0, I).t().contiguous();  // [4H, I]
  if (cell == LSTM) {
    w_input_t.narrow(0, 2 * H, H).mul_(0.5);  // d w.r.t. the unscaled pre-activations
    d_weights.narrow(1, 2 * H, H).mul_(0.5);  // d w.r.t. the scaled columns given (exact)
  }
  auto d_x = at::empty({T * B, I}, weights.options());
  mm(d_x, d_gates.view({T * B, G}), w_input_t, native);
  return {d_weights, d_x.view({T, B, I})};
}

}  // namespace
}  // namespace evo

TORCH_LIBRARY_FRAGMENT(evo_fastslow, m) {
  m.def("recurrent_a2c(Tensor(a!) workspace, int cell, Tensor weights, Tensor head_w, Tensor head_b, Tensor obs, "
        "Tensor reward_table, Tensor next_state, Tensor gumbel, int action_col, int reward_col, float discount, "
        "float value_cost, float entropy_cost, float gae_lambda, bool normalize, bool learn, bool native, int start, "
        "int steps, Tensor(b!) carry_h, Tensor(c!) carry_c, Tensor(d!) carry_state, Tensor(e!) carry_action, "
        "Tensor(f!) carry_reward, int bonus_kind, float bonus_weight, Tensor(g!) carry_counts, "
        "Tensor(h!) carry_earned) -> Tensor[]",
        &evo::recurrent_a2c);
  m.def("rnn_forward(int cell, Tensor weights, Tensor x, bool native, Tensor? h0=None, Tensor? c0=None) -> Tensor[]",
        &evo::rnn_forward);
  m.def("rnn_backward(int cell, Tensor weights, Tensor rows, Tensor gates, Tensor cells, Tensor tanh_c, Tensor d_h, "
        "bool native, Tensor? c0=None) -> Tensor[]", &evo::rnn_backward);
}
