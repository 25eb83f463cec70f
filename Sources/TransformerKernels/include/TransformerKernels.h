#ifndef RPGBOT_TRANSFORMER_KERNELS_H
#define RPGBOT_TRANSFORMER_KERNELS_H

#include <stddef.h>

/// `c = a · b + bias` for row-major `a` (m × k), `b` (k × n) and `c` (m × n); `bias` has n
/// values and may be NULL. Uses AVX-512 or AVX2 with FMA when the processor has them (checked
/// at run time), otherwise a portable loop the compiler vectorises for the target.
void rpgbot_sgemm_bias(const float *a, size_t m, size_t k, const float *b, size_t n, const float *bias, float *c);

/// `c = a · b + bias` with `b` packed by `rpgbot_pack_panels`; `n` must be a multiple of 32.
void rpgbot_sgemm_packed(const float *a, size_t m, size_t k, const float *packed, size_t n, const float *bias, float *c);

/// Copies the row-major `k × n` matrix `b` (`n` a multiple of 32) into `packed` (as many
/// floats) as panels of 32 columns, each panel's `k` rows one after the other.
void rpgbot_pack_panels(const float *b, size_t k, size_t n, float *packed);

/// Layer normalisation of each of the `rows` rows of `x` (each `width` wide), in place:
/// `(x - mean) / sqrt(variance + epsilon) * gamma + beta`, after adding `residual` when it is
/// not NULL.
void rpgbot_add_layer_norm(float *x, const float *residual, size_t rows, size_t width, const float *gamma, const float *beta, float epsilon);

/// The exact (erf) GELU of `count` values, in place.
void rpgbot_gelu(float *x, size_t count);

/// Multi-head self-attention over one sequence without padding. `qkv` holds `length` rows of
/// `3 × heads × head_size` values (the queries, keys and values of every head side by side);
/// the `length` × `heads × head_size` context is written to `out`. `scratch` must hold
/// `rpgbot_attention_scratch_count(length, head_size)` floats.
void rpgbot_attention(const float *qkv, size_t length, size_t heads, size_t head_size, float *out, float *scratch);

/// The floats of scratch space `rpgbot_attention` needs.
size_t rpgbot_attention_scratch_count(size_t length, size_t head_size);

/// Caps the instruction set the kernels choose: 2 (the default) allows AVX-512, 1 AVX2, 0 only
/// the portable loops. Lets tests check every path against the others on one machine.
void rpgbot_limit_kernels(int level);

#endif
