/* CRC-32C with the SSE4.2 crc32 instruction, chosen at run time; records.pyx falls back to its
 * portable slicing-by-16 code where this is unavailable (other CPUs, other compilers). */
#ifndef WPTK_CRC32C_HW_H
#define WPTK_CRC32C_HW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

static int wptk_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

/* Extends a finalized CRC-32C value `crc` with n bytes at p. */
__attribute__((target("sse4.2")))
static uint32_t wptk_crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = ~crc;
    uint64_t w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p += 1;
        n -= 1;
    }
    return ~(uint32_t)c;
}
#else
static int wptk_crc32c_hw_available(void) { return 0; }
static uint32_t wptk_crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    (void)p; (void)n;
    return crc;
}
#endif

#endif
