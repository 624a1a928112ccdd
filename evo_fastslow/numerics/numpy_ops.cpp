// The acting pass's deterministic ops for NumPy arrays, through pybind11: about a microsecond a call
// against ~15 for a torch custom op called from Python, which the NumPy acting loop pays per step.
// Same arithmetic as ops.cpp (det_math).
#include <torch/extension.h>

#include <pybind11/numpy.h>

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

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("mm", &mm);
  m.def("sigmoid", [](const Array& x) { return map(x, det::sigmoid_n); });
  m.def("tanh", [](const Array& x) { return map(x, det::tanh_n); });
  m.def("gumbel", [](const Array& u) { return map(u, gumbel_n); });
  m.def("knn_read", &knn_read);
}
