#include "TransformerKernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdatomic.h>

/// The widest instruction set the kernels may use (`rpgbot_limit_kernels`): 2 AVX-512, 1 AVX2.
static _Atomic int kernel_ceiling = 2;

void rpgbot_limit_kernels(int level) {
    atomic_store_explicit(&kernel_ceiling, level, memory_order_relaxed);
}

#if defined(__x86_64__)
static int use_avx512(void) {
    return atomic_load_explicit(&kernel_ceiling, memory_order_relaxed) >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

static int use_avx2(void) {
    return atomic_load_explicit(&kernel_ceiling, memory_order_relaxed) >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

// The kernels below compute blocks of `c` held in registers: a row block of `a` times a
// column block of `b`, walking `k` once. `b` is read in panels of one column block, which stay
// in cache while every row block of `a` passes over them.

static void sgemm_portable(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c) {
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * n;
        if (bias) memcpy(row, bias, n * sizeof(float)); else memset(row, 0, n * sizeof(float));
        for (size_t p = 0; p < k; p++) {
            const float value = a[i * k + p];
            const float *brow = b + p * n;
            for (size_t j = 0; j < n; j++) row[j] += value * brow[j];
        }
    }
}

/// Columns `from..<n` of `c`, for the widths a vector kernel leaves over.
static void sgemm_columns(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c, size_t from) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = from; j < n; j++) {
            float sum = bias ? bias[j] : 0;
            for (size_t p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
            c[i * n + j] = sum;
        }
    }
}

#if defined(__x86_64__)
#define ROWS 6

// The last columns `from..<n` (fewer than 32), with masked loads and stores: the widths of
// attention scores follow the text's length, so they rarely come in whole blocks.
__attribute__((target("avx512f,fma")))
static void sgemm_tail_avx512(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c, size_t from) {
    for (size_t j = from; j < n; j += 16) {
        const size_t width = n - j < 16 ? n - j : 16;
        const __mmask16 mask = (__mmask16)((1u << width) - 1);
        const __m512 start = bias ? _mm512_maskz_loadu_ps(mask, bias + j) : _mm512_setzero_ps();
        size_t i = 0;
        for (; i + ROWS <= m; i += ROWS) {
            __m512 acc[ROWS];
            for (int r = 0; r < ROWS; r++) acc[r] = start;
            const float *arow = a + i * k;
            for (size_t p = 0; p < k; p++) {
                const __m512 column = _mm512_maskz_loadu_ps(mask, b + p * n + j);
                for (int r = 0; r < ROWS; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(arow[r * k + p]), column, acc[r]);
            }
            for (int r = 0; r < ROWS; r++) _mm512_mask_storeu_ps(c + (i + r) * n + j, mask, acc[r]);
        }
        for (; i < m; i++) {
            __m512 acc = start;
            for (size_t p = 0; p < k; p++) acc = _mm512_fmadd_ps(_mm512_set1_ps(a[i * k + p]), _mm512_maskz_loadu_ps(mask, b + p * n + j), acc);
            _mm512_mask_storeu_ps(c + i * n + j, mask, acc);
        }
    }
}

// 6 rows × 32 columns: twelve 16-lane accumulators, two loads of `b` and one broadcast of
// `a` per step, within the 32 vector registers.
// `b`'s element (p, j) is at `b[(j / 32) * panel_stride + p * row_stride + j % 32]`: the plain
// layout has row_stride n and panel_stride 32, the packed one 32 and k × 32.
__attribute__((target("avx512f,fma")))
static void sgemm_avx512_strided(const float *a, size_t m, size_t k, const float *b, size_t n, size_t row_stride, size_t panel_stride, const float *bias, float *c) {
    const size_t wide = n / 32 * 32;
    for (size_t j = 0; j < wide; j += 32) {
        const float *panel = b + (j / 32) * panel_stride;
        const __m512 bias0 = bias ? _mm512_loadu_ps(bias + j) : _mm512_setzero_ps();
        const __m512 bias1 = bias ? _mm512_loadu_ps(bias + j + 16) : _mm512_setzero_ps();
        size_t i = 0;
        for (; i + ROWS <= m; i += ROWS) {
            __m512 acc[ROWS][2];
            for (int r = 0; r < ROWS; r++) { acc[r][0] = bias0; acc[r][1] = bias1; }
            const float *arow = a + i * k;
            for (size_t p = 0; p < k; p++) {
                const __m512 b0 = _mm512_loadu_ps(panel + p * row_stride);
                const __m512 b1 = _mm512_loadu_ps(panel + p * row_stride + 16);
                for (int r = 0; r < ROWS; r++) {
                    const __m512 value = _mm512_set1_ps(arow[r * k + p]);
                    acc[r][0] = _mm512_fmadd_ps(value, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(value, b1, acc[r][1]);
                }
            }
            for (int r = 0; r < ROWS; r++) {
                _mm512_storeu_ps(c + (i + r) * n + j, acc[r][0]);
                _mm512_storeu_ps(c + (i + r) * n + j + 16, acc[r][1]);
            }
        }
        for (; i < m; i++) {
            __m512 acc0 = bias0, acc1 = bias1;
            for (size_t p = 0; p < k; p++) {
                const __m512 value = _mm512_set1_ps(a[i * k + p]);
                acc0 = _mm512_fmadd_ps(value, _mm512_loadu_ps(panel + p * row_stride), acc0);
                acc1 = _mm512_fmadd_ps(value, _mm512_loadu_ps(panel + p * row_stride + 16), acc1);
            }
            _mm512_storeu_ps(c + i * n + j, acc0);
            _mm512_storeu_ps(c + i * n + j + 16, acc1);
        }
    }
    // Only the plain layout has a tail: packed widths are whole panels.
    if (wide < n) sgemm_tail_avx512(a, m, k, b, n, bias, c, wide);
}

// 6 rows × 16 columns: twelve 8-lane accumulators within the 16 vector registers.
__attribute__((target("avx2,fma")))
static void sgemm_avx2_strided(const float *a, size_t m, size_t k, const float *b, size_t n, size_t row_stride, size_t panel_stride, const float *bias, float *c) {
    const size_t wide = n / 16 * 16;
    for (size_t j = 0; j < wide; j += 16) {
        const float *panel = b + (j / 32) * panel_stride + j % 32;
        const __m256 bias0 = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
        const __m256 bias1 = bias ? _mm256_loadu_ps(bias + j + 8) : _mm256_setzero_ps();
        size_t i = 0;
        for (; i + ROWS <= m; i += ROWS) {
            __m256 acc[ROWS][2];
            for (int r = 0; r < ROWS; r++) { acc[r][0] = bias0; acc[r][1] = bias1; }
            const float *arow = a + i * k;
            for (size_t p = 0; p < k; p++) {
                const __m256 b0 = _mm256_loadu_ps(panel + p * row_stride);
                const __m256 b1 = _mm256_loadu_ps(panel + p * row_stride + 8);
                for (int r = 0; r < ROWS; r++) {
                    const __m256 value = _mm256_broadcast_ss(arow + r * k + p);
                    acc[r][0] = _mm256_fmadd_ps(value, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(value, b1, acc[r][1]);
                }
            }
            for (int r = 0; r < ROWS; r++) {
                _mm256_storeu_ps(c + (i + r) * n + j, acc[r][0]);
                _mm256_storeu_ps(c + (i + r) * n + j + 8, acc[r][1]);
            }
        }
        for (; i < m; i++) {
            __m256 acc0 = bias0, acc1 = bias1;
            for (size_t p = 0; p < k; p++) {
                const __m256 value = _mm256_broadcast_ss(a + i * k + p);
                acc0 = _mm256_fmadd_ps(value, _mm256_loadu_ps(panel + p * row_stride), acc0);
                acc1 = _mm256_fmadd_ps(value, _mm256_loadu_ps(panel + p * row_stride + 8), acc1);
            }
            _mm256_storeu_ps(c + i * n + j, acc0);
            _mm256_storeu_ps(c + i * n + j + 8, acc1);
        }
    }
    if (wide < n) sgemm_columns(a, m, k, b, n, bias, c, wide);
}
#endif

// A weight packed in panels of 32 columns (`rpgbot_pack_panels`): each step of `k` reads 32
// consecutive floats, and a panel is one contiguous run the prefetcher streams. The AVX-512
// kernel reads `b` through strides, so it serves both layouts.
void rpgbot_sgemm_packed(const float *a, size_t m, size_t k, const float *packed, size_t n, const float *bias, float *c) {
#if defined(__x86_64__)
    if (use_avx512()) {
        sgemm_avx512_strided(a, m, k, packed, n, 32, k * 32, bias, c);
        return;
    }
    if (use_avx2()) {
        sgemm_avx2_strided(a, m, k, packed, n, 32, k * 32, bias, c);
        return;
    }
#endif
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * n;
        if (bias) memcpy(row, bias, n * sizeof(float)); else memset(row, 0, n * sizeof(float));
        for (size_t panel = 0; panel < n / 32; panel++) {
            const float *weights = packed + panel * k * 32;
            float *out = row + panel * 32;
            for (size_t p = 0; p < k; p++) {
                const float value = a[i * k + p];
                for (size_t t = 0; t < 32; t++) out[t] += value * weights[p * 32 + t];
            }
        }
    }
}

void rpgbot_pack_panels(const float *b, size_t k, size_t n, float *packed) {
    for (size_t panel = 0; panel < n / 32; panel++)
        for (size_t p = 0; p < k; p++)
            memcpy(packed + (panel * k + p) * 32, b + p * n + panel * 32, 32 * sizeof(float));
}

void rpgbot_sgemm_bias(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c) {
#if defined(__x86_64__)
    if (use_avx512()) {
        sgemm_avx512_strided(a, m, k, b, n, n, 32, bias, c);
        return;
    }
    if (use_avx2()) {
        sgemm_avx2_strided(a, m, k, b, n, n, 32, bias, c);
        return;
    }
#endif
    sgemm_portable(a, m, k, b, n, bias, c);
}

void rpgbot_add_layer_norm(float *x, const float *residual, size_t rows, size_t width, const float *gamma, const float *beta, float epsilon) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * width;
        if (residual) {
            const float *add = residual + r * width;
            for (size_t i = 0; i < width; i++) row[i] += add[i];
        }
        float mean = 0;
        for (size_t i = 0; i < width; i++) mean += row[i];
        mean /= (float)width;
        float variance = 0;
        for (size_t i = 0; i < width; i++) variance += (row[i] - mean) * (row[i] - mean);
        variance /= (float)width;
        const float scale = 1.0f / sqrtf(variance + epsilon);
        for (size_t i = 0; i < width; i++) row[i] = (row[i] - mean) * scale * gamma[i] + beta[i];
    }
}

// Branch-free approximations the compiler vectorises (libm's erff and expf are calls it
// cannot), accurate to a few parts in 10⁷: far below what float32 inference resolves.

/// erf by Abramowitz and Stegun 7.1.28: 1 - 1 / (1 + a1 x + … + a6 x⁶)¹⁶, |error| ≤ 3e-7.
static inline float erf_approximation(float x) {
    const float ax = fabsf(x);
    float p = 1.0f + ax * (0.0705230784f + ax * (0.0422820123f + ax * (0.0092705272f + ax * (0.0001520143f + ax * (0.0002765672f + ax * 0.0000430638f)))));
    p = p * p; p = p * p; p = p * p; p = p * p;
    return copysignf(1.0f - 1.0f / p, x);
}

/// e^x for x ≤ 0 (softmax's shifted scores): x = n ln 2 + r with |r| ≤ ln 2 / 2, e^r by its
/// Taylor polynomial to r⁷, 2^n by building the float's exponent. Below -87 it is 0.
static inline float exp_nonpositive(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float n = floorf(x * 1.44269504f + 0.5f);
    const float r = x - n * 0.693145752f - n * 1.42860677e-6f;
    float e = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666667f + r * (0.0416666667f + r * (0.00833333333f + r * (0.00138888889f + r * 0.000198412698f))))));
    union { float f; int i; } scale = { .i = ((int)n + 127) << 23 };
    return e * scale.f;
}

#define GELU_BODY for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erf_approximation(x[i] * 0.70710678118654752f));
// The maximum and the sum are kept in 16 lanes and combined at the end: a single running
// float would fix the order of the additions, which keeps the compiler from vectorising.
#define SOFTMAX_BODY                                                                          \
    float lanes[16];                                                                          \
    for (int l = 0; l < 16; l++) lanes[l] = -INFINITY;                                        \
    size_t whole = length / 16 * 16;                                                          \
    for (size_t j = 0; j < whole; j += 16)                                                    \
        for (int l = 0; l < 16; l++) lanes[l] = row[j + l] > lanes[l] ? row[j + l] : lanes[l]; \
    float highest = -INFINITY;                                                                \
    for (int l = 0; l < 16; l++) highest = lanes[l] > highest ? lanes[l] : highest;           \
    for (size_t j = whole; j < length; j++) highest = row[j] > highest ? row[j] : highest;    \
    for (size_t j = 0; j < length; j++) row[j] = exp_nonpositive(row[j] - highest);          \
    for (int l = 0; l < 16; l++) lanes[l] = 0;                                                \
    for (size_t j = 0; j < whole; j += 16)                                                    \
        for (int l = 0; l < 16; l++) lanes[l] += row[j + l];                                  \
    float total = 0;                                                                          \
    for (int l = 0; l < 16; l++) total += lanes[l];                                           \
    for (size_t j = whole; j < length; j++) total += row[j];                                  \
    const float inverse = 1.0f / total;                                                       \
    for (size_t j = 0; j < length; j++) row[j] *= inverse;

static void gelu_portable(float *x, size_t count) { GELU_BODY }
static void softmax_portable(float *row, size_t length) { SOFTMAX_BODY }
#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void gelu_avx512(float *x, size_t count) { GELU_BODY }
__attribute__((target("avx512f"))) static void softmax_avx512(float *row, size_t length) { SOFTMAX_BODY }
__attribute__((target("avx2,fma"))) static void gelu_avx2(float *x, size_t count) { GELU_BODY }
__attribute__((target("avx2,fma"))) static void softmax_avx2(float *row, size_t length) { SOFTMAX_BODY }
#endif

void rpgbot_gelu(float *x, size_t count) {
#if defined(__x86_64__)
    if (use_avx512()) { gelu_avx512(x, count); return; }
    if (use_avx2()) { gelu_avx2(x, count); return; }
#endif
    gelu_portable(x, count);
}

/// Each row of `rows` × `length` scores becomes its softmax, in place.
static void softmax_rows(float *scores, size_t rows, size_t length) {
    for (size_t i = 0; i < rows; i++) {
        float *row = scores + i * length;
#if defined(__x86_64__)
        if (use_avx512()) { softmax_avx512(row, length); continue; }
        if (use_avx2()) { softmax_avx2(row, length); continue; }
#endif
        softmax_portable(row, length);
    }
}

void rpgbot_attention(const float *qkv, size_t length, size_t heads, size_t head_size, float *out, float *scratch) {
    const size_t width = heads * head_size;
    const size_t stride = 3 * width;
    const float scale = 1.0f / sqrtf((float)head_size);
    // Per head: the queries (scaled), the keys transposed and the values copied out of `qkv`
    // into dense blocks, so both products run through the matrix kernel.
    float *queries = scratch;
    float *keys = queries + length * head_size;
    float *values = keys + head_size * length;
    float *scores = values + length * head_size;
    float *context = scores + length * length;
    for (size_t h = 0; h < heads; h++) {
        for (size_t i = 0; i < length; i++) {
            const float *row = qkv + i * stride + h * head_size;
            for (size_t d = 0; d < head_size; d++) {
                queries[i * head_size + d] = row[d] * scale;
                keys[d * length + i] = row[width + d];
                values[i * head_size + d] = row[2 * width + d];
            }
        }
        rpgbot_sgemm_bias(queries, length, head_size, keys, length, NULL, scores);
        softmax_rows(scores, length, length);
        rpgbot_sgemm_bias(scores, length, length, values, head_size, NULL, context);
        for (size_t i = 0; i < length; i++) memcpy(out + i * width + h * head_size, context + i * head_size, head_size * sizeof(float));
    }
}

size_t rpgbot_attention_scratch_count(size_t length, size_t head_size) {
    return 4 * length * head_size + length * length;
}
