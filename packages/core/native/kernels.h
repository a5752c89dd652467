// The arithmetic of regime-zoo's fused kernels (zoo_ops.cc registers them with TensorFlow): one pass over
// memory for what the compiled graphs otherwise spell as chains of 8–14 element-wise ops, each a pass of
// its own. Plain loops over float arrays; `target_clones` builds each for AVX-512, AVX2 and baseline
// x86-64 and picks one at load time (libtensorflow's own element-wise kernels are built for AVX only).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ZOO_NO_CLONES)
#define ZOO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ZOO_CLONES
#endif

namespace zoo {

constexpr float GELU_C1 = 0.7978845608028654f;             // √(2/π)
constexpr float GELU_C2 = 0.7978845608028654f * 0.044715f;  // √(2/π)·0.044715

// tanh as Eigen's rational approximation for float (a 13/6 polynomial ratio on [-7.99, 7.99]; Eigen also
// returns x itself below 4e-4, where the ratio is x·(1 − 1.3e-7)): vectorizes where std::tanh would be a
// call per element.
__attribute__((always_inline)) inline float tanh_approx(float x) {
  const float c = 7.99881172180175781f;
  const float y = std::min(std::max(x, -c), c);
  const float y2 = y * y;
  float p = -2.76076847742355e-16f;
  p = p * y2 + 2.00018790482477e-13f;
  p = p * y2 - 8.60467152213735e-11f;
  p = p * y2 + 5.12229709037114e-08f;
  p = p * y2 + 1.48572235717979e-05f;
  p = p * y2 + 6.37261928875436e-04f;
  p = p * y2 + 4.89352455891786e-03f;
  p = p * y;
  float q = 1.19825839466702e-06f;
  q = q * y2 + 1.18534705686654e-04f;
  q = q * y2 + 2.26843463243900e-03f;
  q = q * y2 + 4.89352518554385e-03f;
  return p / q;
}

// exp as Eigen's (Cephes's) float approximation: x = n·ln2 + r, a degree-6 polynomial in r, times 2^n built
// in the exponent bits; 0 below −88.38 (the causal mask's −1e9 included).
__attribute__((always_inline)) inline float exp_approx(float x) {
  x = std::min(std::max(x, -88.3762626647950f), 88.3762626647949f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  return y * __builtin_bit_cast(float, (static_cast<int32_t>(n) + 127) << 23);
}

// GELU (tanh form) on n values: t = tanh(C1·u + C2·u³), y = u·(½t + ½).
ZOO_CLONES inline void gelu(const float* __restrict u, float* __restrict y, float* __restrict t, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = u[i];
    const float th = tanh_approx(x * (x * x * GELU_C2 + GELU_C1));
    t[i] = th;
    y[i] = x * (th * 0.5f + 0.5f);
  }
}

// GELU's gradient from the saved u and t: du = dy·(½(1 + t) + u·(1 − t²)·(½C1 + 3/2·C2·u²)); also y again.
ZOO_CLONES inline void gelu_grad(const float* __restrict dy, const float* __restrict u, const float* __restrict t, float* __restrict du,
                                 float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = u[i], th = t[i];
    const float half = th * 0.5f + 0.5f;
    du[i] = dy[i] * (half + x * (1.0f - th * th) * (x * x * (1.5f * GELU_C2) + 0.5f * GELU_C1));
    y[i] = x * half;
  }
}

// LayerNorm over rows [r0, r1) of [·, d]: xhat = (x − mean)·rstd, rstd = 1/√(var + eps), y = xhat·w + b.
ZOO_CLONES inline void layer_norm(const float* __restrict x, const float* __restrict w, const float* __restrict b, float eps, float* __restrict y,
                                  float* __restrict xhat, float* __restrict rstd, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * d;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; j++) s += xr[j];
    const float mean = s / static_cast<float>(d);
    float v = 0.f;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < d; j++) v += (xr[j] - mean) * (xr[j] - mean);
    const float rs = 1.0f / std::sqrt(v / static_cast<float>(d) + eps);
    rstd[r] = rs;
    float* hr = xhat + r * d;
    float* yr = y + r * d;
    for (int64_t j = 0; j < d; j++) {
      const float h = (xr[j] - mean) * rs;
      hr[j] = h;
      yr[j] = h * w[j] + b[j];
    }
  }
}

// LayerNorm's gradient over rows [r0, r1): dx = (g − mean(g) − xhat·mean(g·xhat))·rstd with g = dy·w; adds
// Σ dy·xhat and Σ dy over those rows to dw and db.
ZOO_CLONES inline void layer_norm_grad(const float* __restrict dy, const float* __restrict xhat, const float* __restrict rstd, const float* __restrict w,
                                       float* __restrict dx, float* __restrict dw, float* __restrict db, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float* gr = dy + r * d;
    const float* hr = xhat + r * d;
    float sg = 0.f, sgh = 0.f;
#pragma omp simd reduction(+ : sg, sgh)
    for (int64_t j = 0; j < d; j++) {
      const float g = gr[j] * w[j];
      sg += g;
      sgh += g * hr[j];
      dw[j] += gr[j] * hr[j];
      db[j] += gr[j];
    }
    const float mg = sg / static_cast<float>(d), mgh = sgh / static_cast<float>(d), rs = rstd[r];
    float* dr = dx + r * d;
    for (int64_t j = 0; j < d; j++) dr[j] = (gr[j] * w[j] - mg - hr[j] * mgh) * rs;
  }
}

// Softmax over rows [r0, r1) of [·, s] after adding row (r mod t) of the additive mask [t, s].
ZOO_CLONES inline void masked_softmax(const float* __restrict x, const float* __restrict mask, float* __restrict p, int64_t r0, int64_t r1, int64_t t,
                                      int64_t s) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * s;
    const float* mr = mask + (r % t) * s;
    float* pr = p + r * s;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < s; j++) m = std::max(m, xr[j] + mr[j]);
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < s; j++) {
      const float e = exp_approx(xr[j] + mr[j] - m);
      pr[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < s; j++) pr[j] *= inv;
  }
}

// Softmax's gradient over rows [r0, r1) of [·, s]: dx = p·(dp − Σ dp·p).
ZOO_CLONES inline void softmax_grad(const float* __restrict dp, const float* __restrict p, float* __restrict dx, int64_t r0, int64_t r1, int64_t s) {
  for (int64_t r = r0; r < r1; r++) {
    const float *gr = dp + r * s, *pr = p + r * s;
    float dot = 0.f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < s; j++) dot += gr[j] * pr[j];
    float* dr = dx + r * s;
    for (int64_t j = 0; j < s; j++) dr[j] = pr[j] * (gr[j] - dot);
  }
}

// Adds the rows [r0, r1) of [·, d] into sums[d].
ZOO_CLONES inline void column_sums(const float* __restrict x, float* __restrict sums, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * d;
    for (int64_t j = 0; j < d; j++) sums[j] += xr[j];
  }
}

// AdamW's update of n values of one parameter, op for op as train.ts's TensorFlow graph spells it, with
// no fused multiply-add, so that the results are the same bits: gs = g·clip, m1 = m·b1 + gs·c1,
// v1 = v·b2 + gs²·c2, p1 = p·keep (or p) − m1·lr_c1 / (√(v1·inv_c2) + eps); c1 = 1 − b1, c2 = 1 − b2.
struct AdamW {
  float b1, c1, b2, c2, eps, lr_c1, inv_c2, clip, keep;
};
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
ZOO_CLONES inline void adamw(const AdamW& a, bool decayed, const float* __restrict p, const float* __restrict g, const float* __restrict m,
                             const float* __restrict v, float* __restrict p1, float* __restrict m1, float* __restrict v1, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float gs = g[i] * a.clip;
    const float mi = m[i] * a.b1 + gs * a.c1;
    const float vi = v[i] * a.b2 + gs * gs * a.c2;
    const float step = mi * a.lr_c1 / (std::sqrt(vi * a.inv_c2) + a.eps);
    p1[i] = (decayed ? p[i] * a.keep : p[i]) - step;
    m1[i] = mi;
    v1[i] = vi;
  }
}
#pragma GCC pop_options

}  // namespace zoo
