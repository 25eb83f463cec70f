#include "VectorKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void int8_dots_portable(const int8_t *matrix, size_t rows, size_t dims, const int16_t *query, int32_t *scores) {
    for (size_t r = 0; r < rows; r++) {
        const int8_t *row = matrix + r * dims;
        int32_t sum = 0;
        for (size_t i = 0; i < dims; i++) sum += (int32_t)row[i] * (int32_t)query[i];
        scores[r] = sum;
    }
}

#if defined(__x86_64__)
// 16 bytes of a row are sign-extended to 16 int16 lanes and multiplied with the query's lanes
// in pairs summed to int32 (vpmaddwd): |127 × 127 × 2| fits easily, and so do 4,096 dims.
__attribute__((target("avx2")))
static void int8_dots_avx2(const int8_t *matrix, size_t rows, size_t dims, const int16_t *query, int32_t *scores) {
    const size_t blocks = dims / 16;
    for (size_t r = 0; r < rows; r++) {
        const int8_t *row = matrix + r * dims;
        __m256i sum = _mm256_setzero_si256();
        for (size_t b = 0; b < blocks; b++) {
            __m256i wide = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + b * 16)));
            __m256i lanes = _mm256_loadu_si256((const __m256i *)(query + b * 16));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(wide, lanes));
        }
        __m128i half = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4E));
        half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0xB1));
        int32_t total = _mm_cvtsi128_si32(half);
        for (size_t i = blocks * 16; i < dims; i++) total += (int32_t)row[i] * (int32_t)query[i];
        scores[r] = total;
    }
}
#endif

void rpgbot_int8_dots(const int8_t *matrix, size_t rows, size_t dims, const int16_t *query, int32_t *scores) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        int8_dots_avx2(matrix, rows, dims, query, scores);
        return;
    }
#endif
    int8_dots_portable(matrix, rows, dims, query, scores);
}
