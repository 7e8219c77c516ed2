/* Run-time choice of the dsp kernels' instruction set. See isa.h. */
#include "isa.h"

enum km__isa km__isa_best(enum km__isa limit)
{
#ifdef KM_ISA_X86
	if (limit >= KM_ISA_AVX512 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("popcnt"))
		return KM_ISA_AVX512;
	if (limit >= KM_ISA_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return KM_ISA_AVX2;
#endif
	(void)limit;
	return KM_ISA_PORTABLE;
}
