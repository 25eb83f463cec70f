#include "TransformerKernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
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

// 6 rows × 32 columns: twelve 16-lane accumulators, two loads of `b` and one broadcast of
// `a` per step, within the 32 vector registers.
__attribute__((target("avx512f,fma")))
static void sgemm_avx512(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c) {
    const size_t wide = n / 32 * 32;
    for (size_t j = 0; j < wide; j += 32) {
        const __m512 bias0 = bias ? _mm512_loadu_ps(bias + j) : _mm512_setzero_ps();
        const __m512 bias1 = bias ? _mm512_loadu_ps(bias + j + 16) : _mm512_setzero_ps();
        size_t i = 0;
        for (; i + ROWS <= m; i += ROWS) {
            __m512 acc[ROWS][2];
            for (int r = 0; r < ROWS; r++) { acc[r][0] = bias0; acc[r][1] = bias1; }
            const float *arow = a + i * k;
            for (size_t p = 0; p < k; p++) {
                const __m512 b0 = _mm512_loadu_ps(b + p * n + j);
                const __m512 b1 = _mm512_loadu_ps(b + p * n + j + 16);
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
                acc0 = _mm512_fmadd_ps(value, _mm512_loadu_ps(b + p * n + j), acc0);
                acc1 = _mm512_fmadd_ps(value, _mm512_loadu_ps(b + p * n + j + 16), acc1);
            }
            _mm512_storeu_ps(c + i * n + j, acc0);
            _mm512_storeu_ps(c + i * n + j + 16, acc1);
        }
    }
    if (wide < n) sgemm_columns(a, m, k, b, n, bias, c, wide);
}

// 6 rows × 16 columns: twelve 8-lane accumulators within the 16 vector registers.
__attribute__((target("avx2,fma")))
static void sgemm_avx2(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c) {
    const size_t wide = n / 16 * 16;
    for (size_t j = 0; j < wide; j += 16) {
        const __m256 bias0 = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
        const __m256 bias1 = bias ? _mm256_loadu_ps(bias + j + 8) : _mm256_setzero_ps();
        size_t i = 0;
        for (; i + ROWS <= m; i += ROWS) {
            __m256 acc[ROWS][2];
            for (int r = 0; r < ROWS; r++) { acc[r][0] = bias0; acc[r][1] = bias1; }
            const float *arow = a + i * k;
            for (size_t p = 0; p < k; p++) {
                const __m256 b0 = _mm256_loadu_ps(b + p * n + j);
                const __m256 b1 = _mm256_loadu_ps(b + p * n + j + 8);
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
                acc0 = _mm256_fmadd_ps(value, _mm256_loadu_ps(b + p * n + j), acc0);
                acc1 = _mm256_fmadd_ps(value, _mm256_loadu_ps(b + p * n + j + 8), acc1);
            }
            _mm256_storeu_ps(c + i * n + j, acc0);
            _mm256_storeu_ps(c + i * n + j + 8, acc1);
        }
    }
    if (wide < n) sgemm_columns(a, m, k, b, n, bias, c, wide);
}
#endif

void rpgbot_sgemm_bias(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) {
        sgemm_avx512(a, m, k, b, n, bias, c);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        sgemm_avx2(a, m, k, b, n, bias, c);
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

void rpgbot_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void rpgbot_attention(const float *qkv, size_t length, size_t heads, size_t head_size, float *out, float *scratch) {
    const size_t width = heads * head_size;
    const size_t stride = 3 * width;
    const float scale = 1.0f / sqrtf((float)head_size);
    for (size_t h = 0; h < heads; h++) {
        for (size_t i = 0; i < length; i++) {
            const float *query = qkv + i * stride + h * head_size;
            float highest = -INFINITY;
            for (size_t j = 0; j < length; j++) {
                const float *key = qkv + j * stride + width + h * head_size;
                float dot = 0;
                for (size_t d = 0; d < head_size; d++) dot += query[d] * key[d];
                scratch[j] = dot * scale;
                if (scratch[j] > highest) highest = scratch[j];
            }
            float total = 0;
            for (size_t j = 0; j < length; j++) {
                scratch[j] = expf(scratch[j] - highest);
                total += scratch[j];
            }
            float *context = out + i * width + h * head_size;
            memset(context, 0, head_size * sizeof(float));
            for (size_t j = 0; j < length; j++) {
                const float weight = scratch[j] / total;
                const float *value = qkv + j * stride + 2 * width + h * head_size;
                for (size_t d = 0; d < head_size; d++) context[d] += weight * value[d];
            }
        }
    }
}
