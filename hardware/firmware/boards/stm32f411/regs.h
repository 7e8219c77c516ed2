/*
 * The few STM32F411 registers this port touches, written from the reference
 * manual RM0383 (rev 3) and the Cortex-M4 generic user guide (ARM DUI 0553).
 * No vendor SDK: each register is an address (block base plus offset), each
 * bit a named constant, with the RM0383 section it comes from; only what is
 * used is here. Drivers access them with reg_rd / reg_wr / reg_set / reg_clr
 * (end of file), so host tests can run the drivers against a model.
 */
#ifndef KM_F411_REGS_H
#define KM_F411_REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- RCC (RM0383 6.3) ------------------------------------------------- */
#define RCC_BASE 0x40023800u
#define RCC_CR (RCC_BASE + 0x00u)
#define RCC_PLLCFGR (RCC_BASE + 0x04u)
#define RCC_CFGR (RCC_BASE + 0x08u)
#define RCC_AHB1ENR (RCC_BASE + 0x30u)
#define RCC_AHB2ENR (RCC_BASE + 0x34u)
#define RCC_APB1ENR (RCC_BASE + 0x40u)
#define RCC_APB2ENR (RCC_BASE + 0x44u)

#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_M(m) ((uint32_t)(m) << 0)              /* 2..63, VCO input = HSE / M */
#define RCC_PLLCFGR_N(n) ((uint32_t)(n) << 6)              /* 50..432, VCO = input * N */
#define RCC_PLLCFGR_P(p) ((uint32_t)((p) / 2u - 1u) << 16) /* 2,4,6,8 */
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_PLLCFGR_Q(q) ((uint32_t)(q) << 24) /* 2..15, USB clock = VCO / Q */
#define RCC_CFGR_SW_PLL (2u << 0)
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV2 (4u << 10)
#define RCC_CFGR_PPRE2_DIV1 (0u << 13)
#define RCC_AHB1ENR_GPIOA (1u << 0)
#define RCC_AHB1ENR_GPIOB (1u << 1)
#define RCC_AHB1ENR_GPIOC (1u << 2)
#define RCC_AHB1ENR_DMA2 (1u << 22)
#define RCC_AHB2ENR_OTGFS (1u << 7)
#define RCC_APB1ENR_TIM2 (1u << 0)
#define RCC_APB1ENR_PWR (1u << 28)
#define RCC_APB2ENR_ADC1 (1u << 8)

/* ---- PWR (RM0383 5.4) ------------------------------------------------- */
#define PWR_CR (0x40007000u)
#define PWR_CR_VOS_SCALE1 (3u << 14) /* needed above 84 MHz */
#define PWR_CR_VOS_MASK (3u << 14)

/* ---- FLASH (RM0383 3.8) ----------------------------------------------- */
#define FLASH_ACR (0x40023C00u)
#define FLASH_ACR_LATENCY(ws) ((uint32_t)(ws) << 0)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

/* ---- GPIO (RM0383 8.4) ------------------------------------------------ */
#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIOC_BASE 0x40020800u
#define GPIO_MODER(p) ((p) + 0x00u)
#define GPIO_OTYPER(p) ((p) + 0x04u)
#define GPIO_OSPEEDR(p) ((p) + 0x08u)
#define GPIO_PUPDR(p) ((p) + 0x0Cu)
#define GPIO_IDR(p) ((p) + 0x10u)
#define GPIO_ODR(p) ((p) + 0x14u)
#define GPIO_BSRR(p) ((p) + 0x18u)
#define GPIO_AFRL(p) ((p) + 0x20u)
#define GPIO_AFRH(p) ((p) + 0x24u)
#define GPIO_MODE_INPUT 0u
#define GPIO_MODE_OUTPUT 1u
#define GPIO_MODE_AF 2u
#define GPIO_MODE_ANALOG 3u
#define GPIO_SPEED_VERY_HIGH 3u
#define GPIO_AF_OTG_FS 10u

/* ---- TIM2, 32-bit general-purpose timer (RM0383 13.4) ----------------- */
#define TIM2_BASE 0x40000000u
#define TIM2_CR1 (TIM2_BASE + 0x00u)
#define TIM2_EGR (TIM2_BASE + 0x14u)
#define TIM2_CNT (TIM2_BASE + 0x24u)
#define TIM2_PSC (TIM2_BASE + 0x28u)
#define TIM2_ARR (TIM2_BASE + 0x2Cu)
#define TIM_CR1_CEN (1u << 0)
#define TIM_EGR_UG (1u << 0)

/* ---- ADC1 (RM0383 11.12) ---------------------------------------------- */
#define ADC1_BASE 0x40012000u
#define ADC1_SR (ADC1_BASE + 0x00u)
#define ADC1_CR1 (ADC1_BASE + 0x04u)
#define ADC1_CR2 (ADC1_BASE + 0x08u)
#define ADC1_SMPR2 (ADC1_BASE + 0x10u)
#define ADC1_SQR1 (ADC1_BASE + 0x2Cu)
#define ADC1_SQR3 (ADC1_BASE + 0x34u)
#define ADC1_DR_ADDR (ADC1_BASE + 0x4Cu)
#define ADC_CCR (0x40012300u + 0x04u)
#define ADC_CCR_ADCPRE_DIV4 (1u << 16)
#define ADC_SR_OVR (1u << 5)
#define ADC_CR1_SCAN (1u << 8)
#define ADC_CR1_RES_12BIT (0u << 24)
#define ADC_CR2_ADON (1u << 0)
#define ADC_CR2_DMA (1u << 8)
#define ADC_CR2_EOCS (1u << 10)
#define ADC_CR2_SWSTART (1u << 30)
#define ADC_SQR1_L(n) ((uint32_t)((n)-1u) << 20) /* n conversions, 1..16 */
#define ADC_SMP_28 2u                            /* 28 ADC clock cycles */
#define ADC_SMP_56 3u
#define ADC_SMP_84 4u

/* ---- DMA2 (RM0383 9.5); ADC1 = stream 0, channel 0 (table 28) --------- */
#define DMA2_BASE 0x40026400u
#define DMA2_LISR (DMA2_BASE + 0x00u)
#define DMA2_LIFCR (DMA2_BASE + 0x08u)
#define DMA2_S0CR (DMA2_BASE + 0x10u)
#define DMA2_S0NDTR (DMA2_BASE + 0x14u)
#define DMA2_S0PAR (DMA2_BASE + 0x18u)
#define DMA2_S0M0AR (DMA2_BASE + 0x1Cu)
#define DMA2_S0FCR (DMA2_BASE + 0x24u)
#define DMA_SCR_EN (1u << 0)
#define DMA_SCR_MINC (1u << 10)
#define DMA_SCR_PSIZE_16 (1u << 11)
#define DMA_SCR_MSIZE_16 (1u << 13)
#define DMA_SCR_PL_HIGH (2u << 16)
#define DMA_SCR_CHSEL(n) ((uint32_t)(n) << 25)
#define DMA_LISR_TCIF0 (1u << 5)
#define DMA_LISR_TEIF0 (1u << 3)
#define DMA_LISR_S0_ALL 0x3Du /* FEIF0, DMEIF0, TEIF0, HTIF0, TCIF0 */

/* ---- USB OTG_FS, device mode (RM0383 22.16) --------------------------- */
#define OTG_BASE 0x50000000u
#define OTG_GAHBCFG (OTG_BASE + 0x008u)
#define OTG_GUSBCFG (OTG_BASE + 0x00Cu)
#define OTG_GRSTCTL (OTG_BASE + 0x010u)
#define OTG_GINTSTS (OTG_BASE + 0x014u)
#define OTG_GINTMSK (OTG_BASE + 0x018u)
#define OTG_GRXSTSP (OTG_BASE + 0x020u)
#define OTG_GRXFSIZ (OTG_BASE + 0x024u)
#define OTG_DIEPTXF0 (OTG_BASE + 0x028u)
#define OTG_GCCFG (OTG_BASE + 0x038u)
#define OTG_DIEPTXF(n) (OTG_BASE + 0x104u + 4u * ((n)-1u))
#define OTG_DCFG (OTG_BASE + 0x800u)
#define OTG_DCTL (OTG_BASE + 0x804u)
#define OTG_DIEPMSK (OTG_BASE + 0x810u)
#define OTG_DOEPMSK (OTG_BASE + 0x814u)
#define OTG_DAINT (OTG_BASE + 0x818u)
#define OTG_DAINTMSK (OTG_BASE + 0x81Cu)
#define OTG_DIEPEMPMSK (OTG_BASE + 0x834u)
#define OTG_DIEPCTL(n) (OTG_BASE + 0x900u + 0x20u * (n))
#define OTG_DIEPINT(n) (OTG_BASE + 0x908u + 0x20u * (n))
#define OTG_DIEPTSIZ(n) (OTG_BASE + 0x910u + 0x20u * (n))
#define OTG_DTXFSTS(n) (OTG_BASE + 0x918u + 0x20u * (n))
#define OTG_DOEPCTL(n) (OTG_BASE + 0xB00u + 0x20u * (n))
#define OTG_DOEPINT(n) (OTG_BASE + 0xB08u + 0x20u * (n))
#define OTG_DOEPTSIZ(n) (OTG_BASE + 0xB10u + 0x20u * (n))
#define OTG_PCGCCTL (OTG_BASE + 0xE00u)
#define OTG_FIFO(n) (OTG_BASE + 0x1000u * ((n) + 1u))
#define OTG_FIFO_WORDS 320u /* 1.25 KiB shared RX/TX FIFO RAM */

#define OTG_GAHBCFG_GINTMSK (1u << 0)
#define OTG_GUSBCFG_PHYSEL (1u << 6)
#define OTG_GUSBCFG_TRDT(n) ((uint32_t)(n) << 10)
#define OTG_GUSBCFG_FDMOD (1u << 30)
#define OTG_GRSTCTL_CSRST (1u << 0)
#define OTG_GRSTCTL_RXFFLSH (1u << 4)
#define OTG_GRSTCTL_TXFFLSH (1u << 5)
#define OTG_GRSTCTL_TXFNUM_ALL (0x10u << 6)
#define OTG_GRSTCTL_AHBIDL (1u << 31)
#define OTG_GINT_RXFLVL (1u << 4)
#define OTG_GINT_USBSUSP (1u << 11)
#define OTG_GINT_USBRST (1u << 12)
#define OTG_GINT_ENUMDNE (1u << 13)
#define OTG_GINT_IEPINT (1u << 18)
#define OTG_GINT_OEPINT (1u << 19)
#define OTG_GINT_WKUPINT (1u << 31)
#define OTG_GRXSTS_EPNUM(v) ((v)&0xFu)
#define OTG_GRXSTS_BCNT(v) (((v) >> 4) & 0x7FFu)
#define OTG_GRXSTS_PKTSTS(v) (((v) >> 17) & 0xFu)
#define OTG_PKTSTS_OUT_DATA 2u
#define OTG_PKTSTS_SETUP_DATA 6u
#define OTG_GCCFG_PWRDWN (1u << 16)
#define OTG_GCCFG_NOVBUSSENS (1u << 21) /* Black Pill: VBUS not wired to PA9 */
#define OTG_DCFG_DSPD_FS (3u << 0)
#define OTG_DCFG_DAD(a) ((uint32_t)(a) << 4)
#define OTG_DCFG_DAD_MASK (0x7Fu << 4)
#define OTG_DCTL_SDIS (1u << 1)
#define OTG_DCTL_CGINAK (1u << 8)
#define OTG_EPCTL_MPSIZ(n) ((uint32_t)(n) << 0)
#define OTG_EPCTL_USBAEP (1u << 15)
#define OTG_EPCTL_EPTYP_BULK (2u << 18)
#define OTG_EPCTL_STALL (1u << 21)
#define OTG_EPCTL_TXFNUM(n) ((uint32_t)(n) << 22)
#define OTG_EPCTL_CNAK (1u << 26)
#define OTG_EPCTL_SNAK (1u << 27)
#define OTG_EPCTL_SD0PID (1u << 28)
#define OTG_EPCTL_EPDIS (1u << 30)
#define OTG_EPCTL_EPENA (1u << 31)
#define OTG_EPINT_XFRC (1u << 0)
#define OTG_EPINT_EPDISD (1u << 1)
#define OTG_DOEPINT_STUP (1u << 3)
#define OTG_DIEPINT_TOC (1u << 3)
#define OTG_DIEPINT_TXFE (1u << 7)
#define OTG_EPTSIZ_PKTCNT(n) ((uint32_t)(n) << 19)
#define OTG_EPTSIZ_XFRSIZ(n) ((uint32_t)(n) << 0)
#define OTG_DOEPTSIZ_STUPCNT3 (3u << 29)
#define OTG_DAINT_IN(n) (1u << (n))
#define OTG_DAINT_OUT(n) (1u << (16u + (n)))

/* ---- Cortex-M4 system (ARM DUI 0553) --------------------------------- */
#define SCB_VTOR REG32(0xE000ED08u)  /* vector table address */
#define SCB_CPACR REG32(0xE000ED88u) /* CP10/CP11 full access: FPU on */
#define NVIC_ISER_ADDR(n) (0xE000E100u + 4u * (n))
#define NVIC_ICER_ADDR(n) (0xE000E180u + 4u * (n))
#define IRQ_OTG_FS 67u /* RM0383 table 38, position 67 */

/* 96-bit unique device ID (RM0383 24.2). */
#define UID_BASE 0x1FFF7A10u

/* Register access by address. KM_REGS_FAKE (host tests only) routes every
 * access through functions the test provides: a model of the peripheral. */
#ifdef KM_REGS_FAKE
uint32_t reg_rd(uint32_t addr);
void reg_wr(uint32_t addr, uint32_t value);
/* Where the next DMA transfer writes (a 32-bit register cannot hold a host
 * pointer): board.c tells the test before programming DMA2_S0M0AR. */
void fake_dma_target(volatile uint16_t *buf);
#define KM_BARRIER() ((void)0)
#else
static inline uint32_t reg_rd(uint32_t addr)
{
	return REG32(addr);
}
static inline void reg_wr(uint32_t addr, uint32_t value)
{
	REG32(addr) = value;
}
#define KM_BARRIER() __asm__ volatile("dsb\n\tisb" ::: "memory")
#endif

static inline void reg_set(uint32_t addr, uint32_t bits)
{
	reg_wr(addr, reg_rd(addr) | bits);
}

static inline void reg_clr(uint32_t addr, uint32_t bits)
{
	reg_wr(addr, reg_rd(addr) & ~bits);
}

static inline void irq_enable(uint32_t irq)
{
	reg_wr(NVIC_ISER_ADDR(irq / 32u), 1u << (irq % 32u));
}

static inline void irq_disable(uint32_t irq)
{
	reg_wr(NVIC_ICER_ADDR(irq / 32u), 1u << (irq % 32u));
	KM_BARRIER(); /* no interrupt after this returns */
}

#endif /* KM_F411_REGS_H */
