/* gm_hd.h — the one macro that lets the shared math headers (kernels/NAME_math.h) compile both as C11
 * (CPU backend, tests) and as CUDA C++ (the .cu files in kernels/). Math headers include this and nothing from CUDA. */
#ifndef GM_HD_H
#define GM_HD_H

#if defined(__CUDACC__)
#define GM_HD __host__ __device__
#else
#define GM_HD
#endif

#endif
