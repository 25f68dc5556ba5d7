/* rng.h — the counter-based random numbers gradmap uses wherever results must be reproducible
 * (SmoothGrad noise, random-weight models, synthetic bench images, k-means seeding): the splitmix64
 * finaliser and the conversion of 53 bits to a double. Pure functions, no state of their own. */
#ifndef GM_RNG_H
#define GM_RNG_H

#include <stdint.h>

#define GM_RNG_GOLDEN 0x9E3779B97F4A7C15ull /* splitmix64's increment */

/* splitmix64's output function (a bijective mixer of 64 bits). */
static inline uint64_t gm_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One splitmix64 step from state z: gm_mix64(z + golden). */
static inline uint64_t gm_splitmix64(uint64_t z) { return gm_mix64(z + GM_RNG_GOLDEN); }

/* The top 53 bits of z as a double in [0, 1). */
static inline double gm_unit53(uint64_t z) { return (double)(z >> 11) / 9007199254740992.0; }

#endif
