/* STM32F411 board layer (board.h); register names from regs.h / RM0383. */
#include "board.h"

#include "km_fw.h"
#include "regs.h"

/* ------------------------------------------------------------------------ */
/* Clocks (RM0383 6.2, 6.3; flash wait states: table 6)                      */
/* ------------------------------------------------------------------------ */

#define PLLCFGR_FIELDS 0x0F437FFFu /* M, N, P, SRC, Q; the rest keeps its reset value */

bool board_clock_init(void)
{
	bool hse = false;
	reg_set(RCC_CR, RCC_CR_HSEON);
	/* The crystal starts in ~2 ms; give up after ~50 ms of HSI cycles. */
	for (uint32_t i = 0; i < 800000u; i++) {
		if (reg_rd(RCC_CR) & RCC_CR_HSERDY) {
			hse = true;
			break;
		}
	}
	/* Voltage scale 1 for 96 MHz (scale 2 stops at 84 MHz). */
	reg_set(RCC_APB1ENR, RCC_APB1ENR_PWR);
	(void)reg_rd(RCC_APB1ENR);
	reg_wr(PWR_CR, (reg_rd(PWR_CR) & ~PWR_CR_VOS_MASK) | PWR_CR_VOS_SCALE1);
	/* 90 < HCLK <= 100 MHz at 2.7-3.6 V: 3 wait states, before speeding up. */
	reg_wr(FLASH_ACR,
	       FLASH_ACR_LATENCY(3) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN);
	while ((reg_rd(FLASH_ACR) & FLASH_ACR_LATENCY_MASK) != 3u) {
	}
	/* VCO input 1 MHz (25/25 or 16/16), VCO 192 MHz, /2 = 96 MHz, /4 = 48 MHz. */
	uint32_t pll = RCC_PLLCFGR_N(192) | RCC_PLLCFGR_P(2) | RCC_PLLCFGR_Q(4);
	pll |= hse ? RCC_PLLCFGR_M(25) | RCC_PLLCFGR_SRC_HSE : RCC_PLLCFGR_M(16);
	reg_wr(RCC_PLLCFGR, (reg_rd(RCC_PLLCFGR) & ~PLLCFGR_FIELDS) | pll);
	reg_set(RCC_CR, RCC_CR_PLLON);
	while (!(reg_rd(RCC_CR) & RCC_CR_PLLRDY)) {
	}
	/* AHB /1, APB1 /2 (48 MHz, its limit is 50), APB2 /1 (96 MHz). */
	reg_wr(RCC_CFGR, RCC_CFGR_PPRE1_DIV2 | RCC_CFGR_PPRE2_DIV1 | RCC_CFGR_SW_PLL);
	while ((reg_rd(RCC_CFGR) & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
	}
	return hse;
}

/* ------------------------------------------------------------------------ */
/* Time base: TIM2 at 1 MHz                                                  */
/* ------------------------------------------------------------------------ */

static uint32_t time_last;
static uint64_t time_high;

void board_time_init(void)
{
	reg_set(RCC_APB1ENR, RCC_APB1ENR_TIM2);
	(void)reg_rd(RCC_APB1ENR);
	/* APB1 prescaler 2 doubles the timer clock: 96 MHz / 96 = 1 MHz. */
	reg_wr(TIM2_PSC, BOARD_SYSCLK_HZ / 1000000u - 1u);
	reg_wr(TIM2_ARR, 0xFFFFFFFFu);
	reg_wr(TIM2_EGR, TIM_EGR_UG); /* load the prescaler now */
	reg_wr(TIM2_CNT, 0);
	reg_wr(TIM2_CR1, TIM_CR1_CEN);
	time_last = 0;
	time_high = 0;
}

uint64_t board_time_us(void)
{
	uint32_t now = reg_rd(TIM2_CNT);
	if (now < time_last)
		time_high += 1ull << 32;
	time_last = now;
	return time_high | now;
}

void board_delay_us(uint32_t us)
{
	/* +1: the first tick may be almost over already. */
	uint32_t start = reg_rd(TIM2_CNT);
	while (reg_rd(TIM2_CNT) - start < us + 1u) {
	}
}

/* ------------------------------------------------------------------------ */
/* GPIO                                                                      */
/* ------------------------------------------------------------------------ */

static void gpio_mode(uint32_t port, uint32_t pin, uint32_t mode)
{
	reg_wr(GPIO_MODER(port),
	       (reg_rd(GPIO_MODER(port)) & ~(3u << (2u * pin))) | (mode << (2u * pin)));
	reg_set(GPIO_OSPEEDR(port), GPIO_SPEED_VERY_HIGH << (2u * pin));
}

#define PIN_SER 5u
#define PIN_SRCLK 6u
#define PIN_RCLK 7u
#define PIN_SRCLR 8u
#define PIN_MUX_S0 12u
#define PIN_LED 13u /* port C */
#define SET(pin) (1u << (pin))
#define CLR(pin) (1u << ((pin) + 16u))

static inline void port_b(uint32_t bsrr)
{
	reg_wr(GPIO_BSRR(GPIOB_BASE), bsrr);
}

/* 74HC595 at 3.3 V needs ~25 ns pulses (TI SCLS041, 2 V/4.5 V columns
 * interpolated); one extra bus write is ~20 ns at 96 MHz, so write twice. */
static inline void pulse(uint32_t pin)
{
	port_b(SET(pin));
	port_b(SET(pin));
	port_b(CLR(pin));
	port_b(CLR(pin));
}

/* ------------------------------------------------------------------------ */
/* Matrix: rows, muxes, ADC1 + DMA2                                          */
/* ------------------------------------------------------------------------ */

static uint16_t mat_rows, mat_cols, muxes, cur_row = KM_FW_NO_ROW, cur_select = 0xFFFF;
static volatile uint16_t adc_buf[BOARD_MAX_MUXES];

/* After a select change the mux's common node (up to ~90 pF with the ADC pin)
 * charges from the new column's source impedance (<= R_pd = 10 kOhm):
 * tau ~ 0.9 us, 4 us ~ 4.4 tau leaves ~1 % of the step (BUILD.md, timing). */
#ifndef KM_BOARD_MUX_SETTLE_US
#define KM_BOARD_MUX_SETTLE_US 4u
#endif

void board_matrix_init(uint16_t rows, uint16_t cols)
{
	mat_rows = rows;
	mat_cols = cols;
	cur_row = KM_FW_NO_ROW;
	cur_select = 0xFFFF;
	muxes = (uint16_t)((cols + BOARD_MUX_CHANNELS - 1u) / BOARD_MUX_CHANNELS);
	if (muxes > BOARD_MAX_MUXES)
		muxes = BOARD_MAX_MUXES;
	if (muxes == 0)
		muxes = 1;

	reg_set(RCC_AHB1ENR,
	        RCC_AHB1ENR_GPIOA | RCC_AHB1ENR_GPIOB | RCC_AHB1ENR_GPIOC | RCC_AHB1ENR_DMA2);
	reg_set(RCC_APB2ENR, RCC_APB2ENR_ADC1);
	(void)reg_rd(RCC_APB2ENR);

	/* Row chain and mux selects: push-pull outputs, start all low. */
	port_b(CLR(PIN_SER) | CLR(PIN_SRCLK) | CLR(PIN_RCLK) | SET(PIN_SRCLR));
	for (uint32_t p = PIN_SER; p <= PIN_SRCLR; p++)
		gpio_mode(GPIOB_BASE, p, GPIO_MODE_OUTPUT);
	for (uint32_t s = 0; s < 4u; s++) {
		port_b(CLR(PIN_MUX_S0 + s));
		gpio_mode(GPIOB_BASE, PIN_MUX_S0 + s, GPIO_MODE_OUTPUT);
	}
	reg_wr(GPIO_BSRR(GPIOC_BASE), SET(PIN_LED)); /* off */
	gpio_mode(GPIOC_BASE, PIN_LED, GPIO_MODE_OUTPUT);
	/* Mux outputs: analog inputs (no pull, no Schmitt trigger). */
	for (uint32_t p = 4; p < 4u + muxes; p++)
		gpio_mode(GPIOA_BASE, p, GPIO_MODE_ANALOG);
	board_select_row(KM_FW_NO_ROW);

	/* ADC1: PCLK2 / 4 = 24 MHz (limit 36 MHz), 12 bit, scan IN4..IN(3+muxes),
	 * 28 cycles sampling: (28 + 12) / 24 MHz = 1.67 us per conversion. 28
	 * cycles settle a source up to ~23 kOhm to 1/2 LSB (RM0383/DS10314 R_AIN
	 * formula), enough for the 10 kOhm pull-down plus the mux. */
	reg_wr(ADC_CCR, ADC_CCR_ADCPRE_DIV4);
	reg_wr(ADC1_CR1, ADC_CR1_SCAN | ADC_CR1_RES_12BIT);
	uint32_t smpr = 0, sqr = 0;
	for (uint32_t m = 0; m < muxes; m++) {
		smpr |= ADC_SMP_28 << (3u * (4u + m));
		sqr |= (4u + m) << (5u * m);
	}
	reg_wr(ADC1_SMPR2, smpr);
	reg_wr(ADC1_SQR3, sqr);
	reg_wr(ADC1_SQR1, ADC_SQR1_L(muxes));
	reg_wr(ADC1_CR2, ADC_CR2_ADON | ADC_CR2_DMA);
	board_delay_us(10); /* t_STAB <= 3 us */

	/* DMA2 stream 0 channel 0: ADC1_DR -> adc_buf, 16-bit, one scan per run. */
	reg_wr(DMA2_S0CR, 0);
	while (reg_rd(DMA2_S0CR) & DMA_SCR_EN) {
	}
	reg_wr(DMA2_S0PAR, ADC1_DR_ADDR);
	reg_wr(DMA2_S0FCR, 0); /* direct mode */
	reg_wr(DMA2_S0CR, DMA_SCR_CHSEL(0) | DMA_SCR_PL_HIGH | DMA_SCR_MSIZE_16 | DMA_SCR_PSIZE_16 |
	                      DMA_SCR_MINC);
}

/* /SRCLR empties the chain (the outputs keep their latched state). */
static void chain_clear(void)
{
	port_b(CLR(PIN_SRCLR));
	port_b(CLR(PIN_SRCLR));
	port_b(SET(PIN_SRCLR));
}

void board_select_row(uint16_t row)
{
	if (row >= mat_rows) {
		chain_clear();
		pulse(PIN_RCLK); /* zeros on every output */
		cur_row = KM_FW_NO_ROW;
		return;
	}
	uint16_t steps;
	if (cur_row != KM_FW_NO_ROW && row > cur_row) {
		steps = (uint16_t)(row - cur_row); /* the usual case: next row, one clock */
	} else {
		chain_clear();
		/* Shift the single 1 into QA of the first chip: row 0. */
		port_b(SET(PIN_SER));
		pulse(PIN_SRCLK);
		port_b(CLR(PIN_SER));
		steps = row;
	}
	for (uint16_t i = 0; i < steps; i++)
		pulse(PIN_SRCLK);
	/* The storage register changes all outputs at once: no two rows high. */
	pulse(PIN_RCLK);
	cur_row = row;
}

static void mux_select(uint16_t s)
{
	if (s == cur_select)
		return;
	uint32_t bits = (uint32_t)s & 0xFu;
	port_b((bits << PIN_MUX_S0) | ((~bits & 0xFu) << (PIN_MUX_S0 + 16u)));
	cur_select = s;
	board_delay_us(KM_BOARD_MUX_SETTLE_US);
}

/* One ADC scan of every mux output through DMA. */
static int adc_scan(void)
{
	reg_clr(DMA2_S0CR, DMA_SCR_EN);
	while (reg_rd(DMA2_S0CR) & DMA_SCR_EN) {
	}
	reg_wr(DMA2_LIFCR, DMA_LISR_S0_ALL);
#ifdef KM_REGS_FAKE
	fake_dma_target(adc_buf);
#endif
	reg_wr(DMA2_S0M0AR, (uint32_t)(uintptr_t)adc_buf);
	reg_wr(DMA2_S0NDTR, muxes);
	reg_set(DMA2_S0CR, DMA_SCR_EN);
	/* Single-DMA mode stops requesting after the last transfer: re-arm the
	 * ADC's DMA bit (RM0383 11.8.1), clear an old overrun, start. */
	reg_wr(ADC1_SR, 0);
	reg_clr(ADC1_CR2, ADC_CR2_DMA);
	reg_set(ADC1_CR2, ADC_CR2_DMA);
	reg_set(ADC1_CR2, ADC_CR2_SWSTART);
	uint32_t start = reg_rd(TIM2_CNT);
	while (!(reg_rd(DMA2_LISR) & (DMA_LISR_TCIF0 | DMA_LISR_TEIF0))) {
		if (reg_rd(TIM2_CNT) - start > 100u) /* 4 conversions take 7 us */
			return KM_ERR_TIMEOUT;
	}
	return (reg_rd(DMA2_LISR) & DMA_LISR_TEIF0) ? KM_ERR_IO : KM_OK;
}

int board_read_columns(uint16_t first, uint16_t n, uint16_t *out)
{
	if (n == 0 || (uint32_t)first + n > mat_cols)
		return KM_ERR_RANGE;
	uint16_t last = (uint16_t)(first + n - 1u);
	for (uint16_t s = (uint16_t)(first / muxes); s <= last / muxes; s++) {
		mux_select(s);
		int rc = adc_scan();
		if (rc != KM_OK)
			return rc;
		for (uint16_t m = 0; m < muxes; m++) {
			uint16_t c = (uint16_t)(s * muxes + m);
			if (c >= first && c <= last)
				out[c - first] = adc_buf[m];
		}
	}
	return KM_OK;
}

void board_led(bool on)
{
	reg_wr(GPIO_BSRR(GPIOC_BASE), on ? CLR(PIN_LED) : SET(PIN_LED));
}

void board_serial(char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	if (cap < 28)
		return;
	out[0] = 'K';
	out[1] = 'M';
	out[2] = '-';
	size_t k = 3;
	for (uint32_t w = 0; w < 3u; w++) {
		uint32_t v = reg_rd(UID_BASE + 4u * w);
		for (int i = 28; i >= 0; i -= 4)
			out[k++] = hex[(v >> i) & 0xFu];
	}
	out[k] = '\0';
}
