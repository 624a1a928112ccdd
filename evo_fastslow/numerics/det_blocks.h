// The blocked product of det_math.cpp, included once per instruction set inside a namespace that
// defines V (the vector type), W (its lanes) and madd(acc, a, b) = acc + a * b with one rounding.
// Every element is computed by the same sequence — start from C (or 0), then madd with A[i, k] and
// B[k, j] for k = 0, 1, ... in order — whatever the vector width, blocking or cache chunking.

inline V load(const float* p) {  // unaligned (memcpy compiles to one vector move)
  V v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }

// C rows [0, R) x columns [0, 2W): a[r][k] = A[r * a_row + k * a_col].
template <int64_t R>
inline void block(const float* A, int64_t a_row, int64_t a_col, const float* B, int64_t ldb, float* C, int64_t ldc,
                  int64_t K, bool accumulate) {
  V acc[R][2];
  for (int64_t r = 0; r < R; ++r)
    for (int64_t h = 0; h < 2; ++h) acc[r][h] = accumulate ? load(C + r * ldc + h * W) : V{};
  for (int64_t k = 0; k < K; ++k) {
    const V b0 = load(B + k * ldb), b1 = load(B + k * ldb + W);
    for (int64_t r = 0; r < R; ++r) {
      const float a = A[r * a_row + k * a_col];
      acc[r][0] = madd(acc[r][0], a, b0);
      acc[r][1] = madd(acc[r][1], a, b1);
    }
  }
  for (int64_t r = 0; r < R; ++r)
    for (int64_t h = 0; h < 2; ++h) store(C + r * ldc + h * W, acc[r][h]);
}

// C rows [0, R) x columns [0, cols), cols <= W, from B packed as [K, W] (zero-padded): one vector.
template <int64_t R>
inline void narrow_block(const float* A, int64_t a_row, int64_t a_col, const float* packed, float* C, int64_t ldc,
                         int64_t K, int64_t cols, bool accumulate) {
  float lanes[W] = {};
  V acc[R];
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t j = 0; j < cols; ++j) lanes[j] = accumulate ? C[r * ldc + j] : 0.0f;
    acc[r] = load(lanes);
  }
  for (int64_t k = 0; k < K; ++k) {
    const V b = load(packed + k * W);
    for (int64_t r = 0; r < R; ++r) acc[r] = madd(acc[r], A[r * a_row + k * a_col], b);
  }
  for (int64_t r = 0; r < R; ++r) {
    store(lanes, acc[r]);
    for (int64_t j = 0; j < cols; ++j) C[r * ldc + j] = lanes[j];
  }
}

// R rows (R <= RB) of the product, all columns: blocks of 2W columns, then the rest W at a time from
// B's remaining columns packed into zero-padded rows (`packed`, K x W floats per chunk).
template <int64_t R>
inline void rows(const float* A, int64_t a_row, int64_t a_col, const float* B, int64_t ldb, float* C, int64_t ldc,
                 int64_t K, int64_t N, bool accumulate, const float* packed, int64_t packed_stride) {
  int64_t j0 = 0;
  for (; j0 + 2 * W <= N; j0 += 2 * W) block<R>(A, a_row, a_col, B + j0, ldb, C + j0, ldc, K, accumulate);
  for (int64_t chunk = 0; j0 < N; j0 += W, ++chunk)
    narrow_block<R>(A, a_row, a_col, packed + chunk * packed_stride, C + j0, ldc, K, N - j0 < W ? N - j0 : W,
                    accumulate);
}

// C[M, N] (+)= A' B with A'[i, k] = A[i * a_row + k * a_col] (A or A^T).
void product(const float* A, int64_t a_row, int64_t a_col, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t K, int64_t N, bool accumulate) {
  const int64_t first = N / (2 * W) * (2 * W), chunks = (N - first + W - 1) / W;
  thread_local std::vector<float> pack;  // B's columns past the last full block, zero-padded to W
  pack.assign(chunks * K * W, 0.0f);
  for (int64_t chunk = 0; chunk < chunks; ++chunk)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < W && first + chunk * W + j < N; ++j)
        pack[(chunk * K + k) * W + j] = B[k * ldb + first + chunk * W + j];
  // The sum over k runs in chunks of KC (B's rows of a chunk stay in cache across the row blocks); each
  // chunk continues from the partial sums the previous one stored in C: the same sequence, exactly.
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = K - k0 < KC ? K - k0 : KC;
    const bool acc = accumulate || k0 > 0;
    const float *a = A + k0 * a_col, *b = B + k0 * ldb, *packed = pack.data() + k0 * W;
    int64_t i0 = 0;
    for (; i0 + RB <= M; i0 += RB)
      rows<RB>(a + i0 * a_row, a_row, a_col, b, ldb, C + i0 * ldc, ldc, kc, N, acc, packed, K * W);
    float* c = C + i0 * ldc;
    switch (M - i0) {
      case 3: rows<3>(a + i0 * a_row, a_row, a_col, b, ldb, c, ldc, kc, N, acc, packed, K * W); break;
      case 2: rows<2>(a + i0 * a_row, a_row, a_col, b, ldb, c, ldc, kc, N, acc, packed, K * W); break;
      case 1: rows<1>(a + i0 * a_row, a_row, a_col, b, ldb, c, ldc, kc, N, acc, packed, K * W); break;
      default: break;
    }
  }
}
