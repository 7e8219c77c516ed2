/*
 * The vector instruction sets dsp/'s hand-written kernels come in (internal):
 * the band-pass rows (sepconv.c) and detection's scans (detect_scan.c). Each
 * has a portable C version that is always built, and x86 versions chosen at
 * run time.
 */
#ifndef KM_DSP_ISA_H
#define KM_DSP_ISA_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define KM_ISA_X86 1 /* the x86 kernels are compiled (target attributes, immintrin.h) */
#endif

enum km__isa {
	KM_ISA_PORTABLE = 0,
	KM_ISA_AVX2 = 1,   /* AVX2 + FMA */
	KM_ISA_AVX512 = 2, /* AVX-512F (+ POPCNT, which every such CPU has) */
};

/* The widest set, up to limit, that this CPU and OS run (the OS must save
 * the vector state: __builtin_cpu_supports checks that too). */
enum km__isa km__isa_best(enum km__isa limit);

#endif
