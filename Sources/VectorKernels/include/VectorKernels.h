#ifndef RPGBOT_VECTOR_KERNELS_H
#define RPGBOT_VECTOR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Integer dot products of every row of a row-major int8 matrix with one query:
/// `scores[r] = Σ matrix[r * dims + i] * query[i]`.
///
/// The query is given widened to int16 (its values within -127…127) so the kernel multiplies
/// pairs without widening it again per row. Uses AVX2 when the processor has it (checked at
/// run time, so the binary still runs on any x86-64), otherwise a portable loop the compiler
/// vectorises for the target.
void rpgbot_int8_dots(const int8_t *matrix, size_t rows, size_t dims, const int16_t *query, int32_t *scores);

#endif
