// regime-zoo's fused ops, registered with TensorFlow through its C kernel API (tensorflow/c/ops.h,
// kernels.h) when Node loads this file as an addon (core's fused-ops.ts). The compiled graphs use them
// where they are registered (model-graph.ts) and TensorFlow's own ops otherwise. kernels.h has the math.
//   ZooGelu(u) -> (y, t)                         ZooGeluGrad(dy, u, t) -> (du, y)
//   ZooLayerNorm(x, w, b; eps) -> (y, xhat, rstd) ZooLayerNormGrad(dy, xhat, rstd, w) -> (dx, dw, db)
//   ZooMaskedSoftmax(x, mask) -> p               ZooSoftmaxGrad(dp, p) -> dx
//   ZooColumnSums(x) -> sums                     ZooAdamW(scalars, p…, g…, m…, v…) -> (p…, m…, v…)
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels.h"
#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"

namespace {

// Inputs of one kernel call, released at the end of the call.
struct Inputs {
  std::vector<TF_Tensor*> t;
  ~Inputs() {
    for (TF_Tensor* x : t) TF_DeleteTensor(x);
  }
  const float* f(int i) const { return static_cast<const float*>(TF_TensorData(t[i])); }
};

struct Call {
  TF_OpKernelContext* ctx;
  TF_Status* s = TF_NewStatus();
  Inputs in;
  std::vector<TF_Tensor*> out;
  explicit Call(TF_OpKernelContext* c, int inputs) : ctx(c) {
    for (int i = 0; i < inputs && ok(); i++) {
      TF_Tensor* x = nullptr;
      TF_GetInput(ctx, i, &x, s);
      if (ok()) in.t.push_back(x);
    }
  }
  ~Call() {
    for (TF_Tensor* x : out) TF_DeleteTensor(x);
    if (!ok()) TF_OpKernelContext_Failure(ctx, s);
    TF_DeleteStatus(s);
  }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
  void fail(const char* message) { TF_SetStatus(s, TF_INVALID_ARGUMENT, message); }
  // Output `index` with the given dims; nullptr (and the call failed) if allocation failed.
  float* output(int index, const int64_t* dims, int rank) {
    if (!ok()) return nullptr;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    TF_Tensor* x = TF_AllocateOutput(ctx, index, TF_FLOAT, dims, rank, n * sizeof(float), s);
    if (!ok()) return nullptr;
    out.push_back(x);
    return static_cast<float*>(TF_TensorData(x));
  }
  float* output_like(int index, int input) {
    const TF_Tensor* x = in.t[input];
    int64_t dims[8];
    const int rank = TF_NumDims(x);
    if (rank > 8) {
      fail("zoo ops take tensors of rank ≤ 8");
      return nullptr;
    }
    for (int i = 0; i < rank; i++) dims[i] = TF_Dim(x, i);
    return output(index, dims, rank);
  }
  int64_t count(int input) const { return TF_TensorElementCount(in.t[input]); }
  // Rows and row length of input `i` seen as [rows, d] (d = its last dimension).
  void rows(int i, int64_t* n, int64_t* d) const {
    const int rank = TF_NumDims(in.t[i]);
    *d = rank > 0 ? TF_Dim(in.t[i], rank - 1) : 1;
    *n = *d > 0 ? count(i) / *d : 0;
  }
};

// Into how many parts `parallel_rows` splits n rows of d values: this machine's cores when the work is
// large enough to pay for starting threads (2^18 values: ~0.1 ms of work), else one.
int parts_for(int64_t n, int64_t d) {
  static const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return n * d >= (1 << 18) ? static_cast<int>(std::min<int64_t>(cores, n)) : 1;
}

// Calls work(part, r0, r1) for each part of [0, n), the first in this thread.
template <class F>
void parallel_rows(int64_t n, int64_t d, F&& work) {
  const int parts = parts_for(n, d);
  if (parts <= 1) return work(0, 0, n);
  std::vector<std::thread> threads;
  for (int p = 1; p < parts; p++) threads.emplace_back(work, p, n * p / parts, n * (p + 1) / parts);
  work(0, 0, n / parts);
  for (std::thread& t : threads) t.join();
}

// Runs work(acc, r0, r1) over the parts of parallel_rows, each part adding into its own zeroed `width`
// floats; returns their sum, added part by part in order (the same bits for the same number of parts).
template <class F>
std::vector<float> summed_over_parts(int64_t n, int64_t d, int64_t width, F&& work) {
  const int parts = parts_for(n, d);
  std::vector<float> partial(static_cast<size_t>(width * parts), 0.f);
  parallel_rows(n, d, [&](int p, int64_t r0, int64_t r1) { work(partial.data() + width * p, r0, r1); });
  for (int p = 1; p < parts; p++) {
    for (int64_t j = 0; j < width; j++) partial[j] += partial[width * p + j];
  }
  partial.resize(static_cast<size_t>(width));
  return partial;
}

void* no_state(TF_OpKernelConstruction*) { return nullptr; }
void no_delete(void*) {}

void gelu(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 1);
  if (!c.ok()) return;
  float* y = c.output_like(0, 0);
  float* t = c.output_like(1, 0);
  if (!c.ok()) return;
  const float* u = c.in.f(0);
  int64_t n, d;
  c.rows(0, &n, &d);
  parallel_rows(n, d, [&](int, int64_t r0, int64_t r1) { zoo::gelu(u + r0 * d, y + r0 * d, t + r0 * d, (r1 - r0) * d); });
}

void gelu_grad(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 3);
  if (!c.ok()) return;
  if (c.count(1) != c.count(0) || c.count(2) != c.count(0)) return c.fail("ZooGeluGrad: dy, u and t must have the same size");
  float* du = c.output_like(0, 0);
  float* y = c.output_like(1, 0);
  if (!c.ok()) return;
  const float *dy = c.in.f(0), *u = c.in.f(1), *t = c.in.f(2);
  int64_t n, d;
  c.rows(0, &n, &d);
  parallel_rows(n, d, [&](int, int64_t r0, int64_t r1) {
    const int64_t o = r0 * d;
    zoo::gelu_grad(dy + o, u + o, t + o, du + o, y + o, (r1 - r0) * d);
  });
}

struct Eps {
  float eps;
};

void* read_eps(TF_OpKernelConstruction* ctx) {
  auto* e = new Eps{1e-5f};
  TF_Status* s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(ctx, "eps", &e->eps, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return e;
}

void delete_eps(void* e) { delete static_cast<Eps*>(e); }

void layer_norm(void* state, TF_OpKernelContext* ctx) {
  Call c(ctx, 3);
  if (!c.ok()) return;
  int64_t n, d;
  c.rows(0, &n, &d);
  if (c.count(1) != d || c.count(2) != d) return c.fail("ZooLayerNorm: w and b must have the size of x's last dimension");
  const int64_t col[2] = {n, 1};
  float* y = c.output_like(0, 0);
  float* xhat = c.output_like(1, 0);
  float* rstd = c.output(2, col, 2);
  if (!c.ok()) return;
  const float eps = static_cast<Eps*>(state)->eps;
  const float *x = c.in.f(0), *w = c.in.f(1), *b = c.in.f(2);
  parallel_rows(n, d, [&](int, int64_t r0, int64_t r1) { zoo::layer_norm(x, w, b, eps, y, xhat, rstd, r0, r1, d); });
}

void layer_norm_grad(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 4);
  if (!c.ok()) return;
  int64_t n, d;
  c.rows(0, &n, &d);
  if (c.count(1) != n * d || c.count(2) != n || c.count(3) != d) return c.fail("ZooLayerNormGrad: xhat must match dy, rstd have one value per row, w one per column");
  const int64_t vec[1] = {d};
  float* dx = c.output_like(0, 0);
  float* dw = c.output(1, vec, 1);
  float* db = c.output(2, vec, 1);
  if (!c.ok()) return;
  const float *dy = c.in.f(0), *xhat = c.in.f(1), *rstd = c.in.f(2), *w = c.in.f(3);
  // dw and db side by side, summed per part.
  const std::vector<float> sums = summed_over_parts(n, d, 2 * d, [&](float* acc, int64_t r0, int64_t r1) {
    zoo::layer_norm_grad(dy, xhat, rstd, w, dx, acc, acc + d, r0, r1, d);
  });
  std::memcpy(dw, sums.data(), d * sizeof(float));
  std::memcpy(db, sums.data() + d, d * sizeof(float));
}

void masked_softmax(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 2);
  if (!c.ok()) return;
  int64_t n, s, t, s2;
  c.rows(0, &n, &s);
  c.rows(1, &t, &s2);
  if (s2 != s || t == 0 || n % t != 0) return c.fail("ZooMaskedSoftmax: the mask must be [T, S] for scores [..., T, S]");
  float* p = c.output_like(0, 0);
  if (!c.ok()) return;
  const float *x = c.in.f(0), *mask = c.in.f(1);
  parallel_rows(n, s, [&](int, int64_t r0, int64_t r1) { zoo::masked_softmax(x, mask, p, r0, r1, t, s); });
}

void softmax_grad(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 2);
  if (!c.ok()) return;
  if (c.count(1) != c.count(0)) return c.fail("ZooSoftmaxGrad: dp and p must have the same size");
  int64_t n, s;
  c.rows(0, &n, &s);
  float* dx = c.output_like(0, 0);
  if (!c.ok()) return;
  const float *dp = c.in.f(0), *p = c.in.f(1);
  parallel_rows(n, s, [&](int, int64_t r0, int64_t r1) { zoo::softmax_grad(dp, p, dx, r0, r1, s); });
}

void column_sums(void*, TF_OpKernelContext* ctx) {
  Call c(ctx, 1);
  if (!c.ok()) return;
  int64_t n, d;
  c.rows(0, &n, &d);
  const int64_t vec[1] = {d};
  float* out = c.output(0, vec, 1);
  if (!c.ok()) return;
  const float* x = c.in.f(0);
  const std::vector<float> sums = summed_over_parts(n, d, d, [&](float* acc, int64_t r0, int64_t r1) { zoo::column_sums(x, acc, r0, r1, d); });
  std::memcpy(out, sums.data(), d * sizeof(float));
}

// ZooAdamW's attributes: the moments' constants and which parameters decay.
struct AdamWAttrs {
  float b1, c1, b2, c2, eps;
  std::vector<TF_Bool> decay;
};

void* read_adamw(TF_OpKernelConstruction* ctx) {
  auto* a = new AdamWAttrs();
  TF_Status* s = TF_NewStatus();
  const struct {
    const char* name;
    float* to;
  } floats[] = {{"beta1", &a->b1}, {"one_minus_beta1", &a->c1}, {"beta2", &a->b2}, {"one_minus_beta2", &a->c2}, {"eps", &a->eps}};
  for (const auto& f : floats) {
    if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, f.name, f.to, s);
  }
  int32_t n = 0;
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt32(ctx, "N", &n, s);
  if (TF_GetCode(s) == TF_OK) {
    a->decay.assign(static_cast<size_t>(n), 0);
    TF_OpKernelConstruction_GetAttrBoolList(ctx, "decay", a->decay.data(), n, s);
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return a;
}

void delete_adamw(void* a) { delete static_cast<AdamWAttrs*>(a); }

// ZooAdamW(scalars [lr_c1, inv_c2, clip, keep], p × N, g × N, m × N, v × N) -> (p × N, m × N, v × N).
void adamw(void* state, TF_OpKernelContext* ctx) {
  const AdamWAttrs& at = *static_cast<AdamWAttrs*>(state);
  const int n = static_cast<int>(at.decay.size());
  Call c(ctx, 1 + 4 * n);
  if (!c.ok()) return;
  if (c.count(0) != 4) return c.fail("ZooAdamW: scalars must be [lr/(1 − β1^t), 1/(1 − β2^t), clip scale, decay factor]");
  const float* sc = c.in.f(0);
  const zoo::AdamW a{at.b1, at.c1, at.b2, at.c2, at.eps, sc[0], sc[1], sc[2], sc[3]};
  for (int i = 0; i < n; i++) {
    const int p = 1 + i, g = 1 + n + i, m = 1 + 2 * n + i, v = 1 + 3 * n + i;
    const int64_t size = c.count(p);
    if (c.count(g) != size || c.count(m) != size || c.count(v) != size) return c.fail("ZooAdamW: a parameter, its gradient and its moments must have the same size");
    float* p1 = c.output_like(i, p);
    float* m1 = c.output_like(n + i, p);
    float* v1 = c.output_like(2 * n + i, p);
    if (!c.ok()) return;
    const float *pp = c.in.f(p), *gg = c.in.f(g), *mm = c.in.f(m), *vv = c.in.f(v);
    const bool decayed = at.decay[i] != 0;
    parallel_rows(size, 1, [&](int, int64_t r0, int64_t r1) { zoo::adamw(a, decayed, pp + r0, gg + r0, mm + r0, vv + r0, p1 + r0, m1 + r0, v1 + r0, r1 - r0); });
  }
}

void unknown_shapes(TF_ShapeInferenceContext* ctx, TF_Status* s) { TF_ShapeInferenceContextSetUnknownShape(ctx, s); }

// Outputs 0 (and 1, if `second`) have input 0's shape; the others are left unknown.
template <bool second>
void like_input(TF_ShapeInferenceContext* ctx, TF_Status* s) {
  unknown_shapes(ctx, s);
  TF_ShapeHandle* h = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, 0, h, s);
  if (TF_GetCode(s) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, h, s);
  if (second && TF_GetCode(s) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 1, h, s);
  TF_DeleteShapeHandle(h);
}

void define(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
            std::initializer_list<const char*> attrs, void (*shape)(TF_ShapeInferenceContext*, TF_Status*),
            void* (*create)(TF_OpKernelConstruction*), void (*compute)(void*, TF_OpKernelContext*), void (*destroy)(void*)) {
  TF_Status* s = TF_NewStatus();
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(name);
  for (const char* i : inputs) TF_OpDefinitionBuilderAddInput(b, i);
  for (const char* o : outputs) TF_OpDefinitionBuilderAddOutput(b, o);
  for (const char* a : attrs) TF_OpDefinitionBuilderAddAttr(b, a);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(b, shape);
  TF_RegisterOpDefinition(b, s);
  if (TF_GetCode(s) == TF_OK) TF_RegisterKernelBuilder(name, TF_NewKernelBuilder(name, "CPU", create, compute, destroy), s);
  TF_DeleteStatus(s);
}

struct Register {
  Register() {
    define("ZooGelu", {"u: float"}, {"y: float", "t: float"}, {}, like_input<true>, no_state, gelu, no_delete);
    define("ZooGeluGrad", {"dy: float", "u: float", "t: float"}, {"du: float", "y: float"}, {}, like_input<true>, no_state, gelu_grad, no_delete);
    define("ZooLayerNorm", {"x: float", "w: float", "b: float"}, {"y: float", "xhat: float", "rstd: float"}, {"eps: float"}, like_input<true>,
           read_eps, layer_norm, delete_eps);
    define("ZooLayerNormGrad", {"dy: float", "xhat: float", "rstd: float", "w: float"}, {"dx: float", "dw: float", "db: float"}, {},
           like_input<false>, no_state, layer_norm_grad, no_delete);
    define("ZooMaskedSoftmax", {"x: float", "mask: float"}, {"p: float"}, {}, like_input<false>, no_state, masked_softmax, no_delete);
    define("ZooSoftmaxGrad", {"dp: float", "p: float"}, {"dx: float"}, {}, like_input<false>, no_state, softmax_grad, no_delete);
    define("ZooAdamW", {"scalars: float", "p: N * float", "g: N * float", "m: N * float", "v: N * float"},
           {"p_out: N * float", "m_out: N * float", "v_out: N * float"},
           {"N: int >= 1", "beta1: float", "one_minus_beta1: float", "beta2: float", "one_minus_beta2: float", "eps: float", "decay: list(bool)"},
           unknown_shapes, read_adamw, adamw, delete_adamw);
    define("ZooColumnSums", {"x: float"}, {"sums: float"}, {}, unknown_shapes, no_state, column_sums, no_delete);
  }
} registered;

// Releases the resident pages of libtensorflow's read-only file mappings (its code and constants) that are
// still exact copies of the file: most were touched once, by the library's start-up (op and kernel
// registration) and the kernel's fault-around, and never again. madvise(MADV_DONTNEED) unmaps them; a
// page needed later is mapped again from the page cache on its next use (a minor fault). Only mappings
// that are read-only, private and hold no anonymous or dirty page qualify, so nothing written is lost.
// Returns how many bytes of address space were released, or -1 if /proc/self/smaps cannot be read.
double release_library_pages() {
  FILE* f = std::fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  struct Range {
    unsigned long lo, hi;
    bool clean;
  };
  std::vector<Range> ranges;
  char line[4096];
  bool candidate = false;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo, hi, kb;
    char perms[8];
    char field[64];
    if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) {
      candidate = std::strstr(line, "/libtensorflow") && (!std::strcmp(perms, "r--p") || !std::strcmp(perms, "r-xp"));
      if (candidate) ranges.push_back({lo, hi, true});
    } else if (candidate && std::sscanf(line, "%63[A-Za-z_]: %lu kB", field, &kb) == 2 && kb > 0 &&
               (!std::strcmp(field, "Anonymous") || !std::strcmp(field, "Private_Dirty") || !std::strcmp(field, "Shared_Dirty"))) {
      ranges.back().clean = false;
    }
  }
  std::fclose(f);
  double released = 0;
  for (const Range& r : ranges) {
    if (r.clean && madvise(reinterpret_cast<void*>(r.lo), r.hi - r.lo, MADV_DONTNEED) == 0) released += r.hi - r.lo;
  }
  return released;
}

}  // namespace

// Node loads this file as an N-API addon (`process.dlopen`); it exports `releaseLibraryPages()` (above),
// which core's backend.ts calls once the native backend has started. The few N-API functions it needs
// are declared here (a stable C ABI; weak, so the library links without Node's headers and resolves
// them against the running Node).
extern "C" {
typedef struct napi_env__* napi_env;
typedef struct napi_value__* napi_value;
typedef struct napi_callback_info__* napi_callback_info;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
int napi_create_function(napi_env, const char*, size_t, napi_callback, void*, napi_value*) __attribute__((weak));
int napi_create_double(napi_env, double, napi_value*) __attribute__((weak));
int napi_set_named_property(napi_env, napi_value, const char*, napi_value) __attribute__((weak));

static napi_value release_pages_js(napi_env env, napi_callback_info) {
  napi_value bytes = nullptr;
  napi_create_double(env, release_library_pages(), &bytes);
  return bytes;
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn = nullptr;
  if (napi_create_function && napi_create_function(env, "releaseLibraryPages", static_cast<size_t>(-1), release_pages_js, nullptr, &fn) == 0) {
    napi_set_named_property(env, exports, "releaseLibraryPages", fn);
  }
  return exports;
}
__attribute__((visibility("default"))) int32_t node_api_module_get_api_version_v1() { return 8; }
}
