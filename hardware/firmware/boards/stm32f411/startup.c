/*
 * Reset, vector table and fault handling for the STM32F411 (Cortex-M4F).
 * Vector layout: ARMv7-M system exceptions (ARM DDI 0403 B1.5.2), then the
 * 86 peripheral interrupts of RM0383 table 38; only OTG_FS (67) is used.
 */
#include <stdint.h>

#include "regs.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void OTG_FS_IRQHandler(void);

/* A fault or an unexpected interrupt: stop here, visible to a debugger
 * (openocd/gdb "bt"); the LED stops blinking. */
static void Default_Handler(void)
{
	for (;;)
		__asm__ volatile("bkpt 0");
}

#define IRQ_COUNT 86u

typedef void (*vector_fn)(void);

__attribute__((section(".isr_vector"), used)) static const vector_fn vectors[16 + IRQ_COUNT] = {
    [0] = (vector_fn)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [12] = Default_Handler, /* DebugMonitor */
    [14] = Default_Handler, /* PendSV */
    [15] = Default_Handler, /* SysTick */
    [16 + IRQ_OTG_FS] = OTG_FS_IRQHandler,
};

void Reset_Handler(void)
{
	uint32_t *src = &_sidata, *dst = &_sdata;
	while (dst < &_edata)
		*dst++ = *src++;
	for (dst = &_sbss; dst < &_ebss;)
		*dst++ = 0;
	/* The core has no floating point, but gcc may use FPU registers with
	 * -mfloat-abi=hard: enable CP10/CP11 before any C code runs. */
	SCB_CPACR |= 0xFu << 20;
	/* Our table, also when a bootloader started us from a higher address. */
	SCB_VTOR = (uint32_t)(uintptr_t)vectors;
	__asm__ volatile("dsb\n\tisb" ::: "memory");
	main();
	Default_Handler();
}
