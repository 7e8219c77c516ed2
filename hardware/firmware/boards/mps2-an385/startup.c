/*
 * Reset and vector table for the Cortex-M3 of qemu's mps2-an385 (ARM
 * AN385: 4 MiB SSRAM at 0x00000000 holding code, 4 MiB at 0x20000000 for
 * data). Copies .data, clears .bss, runs main(), reports its return value
 * through semihosting. A fault prints its name and fails the run.
 */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);

static void fault(const char *what)
{
	semihost_write(what, strlen(what));
	semihost_exit(1);
}

static void NMI_Handler(void)
{
	fault("FAULT NMI\n");
}
static void HardFault_Handler(void)
{
	fault("FAULT HardFault\n");
}
static void MemManage_Handler(void)
{
	fault("FAULT MemManage\n");
}
static void BusFault_Handler(void)
{
	fault("FAULT BusFault\n");
}
static void UsageFault_Handler(void)
{
	fault("FAULT UsageFault\n");
}
static void Default_Handler(void)
{
	fault("FAULT unexpected interrupt\n");
}

/* ARMv7-M: initial SP, then the 15 system exceptions (ARM DDI 0403, B1.5.2). */
__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};

void Reset_Handler(void)
{
	uint32_t *src = &_sidata, *dst = &_sdata;
	while (dst < &_edata)
		*dst++ = *src++;
	for (dst = &_sbss; dst < &_ebss;)
		*dst++ = 0;
	/* Trap divide by zero and unaligned access as faults (SCB->CCR). */
	*(volatile uint32_t *)0xE000ED14u |= (1u << 4);
	semihost_exit(main());
}
