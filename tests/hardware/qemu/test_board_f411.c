/*
 * The STM32F411 board layer (boards/stm32f411/board.c) on the host, against
 * a model of what it drives: the RCC/flash/PWR registers, TIM2 as a counter
 * that advances 1 us per read, GPIOB pins feeding a chain of 74HC595s (shift
 * on SRCLK rising, clear on /SRCLR low, latch on RCLK rising), four 74HC4067
 * selects, and ADC1 + DMA2 converting the selected cell of each mux. The
 * checks are about the board's own logic: clock field values, one row high at
 * a time, the column <-> mux/channel mapping, settling before conversions,
 * DMA re-arming, timeouts, the 64-bit clock. The model encodes the same
 * reading of RM0383 and the 74HC datasheets as the driver.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "board.h"
#include "km_fw.h"
#include "regs.h"

static struct {
	uint32_t addr[256], val[256];
	unsigned n;
	bool hse_ok;
	bool adc_dead;
	uint32_t tim;
	uint32_t portb;
	uint64_t chain, outputs;
	uint32_t select_time;
	unsigned srclk_pulses, selects, scans;
	bool dma_rearmed;
	volatile uint16_t *dma;
	uint16_t rows, cols;
} m;

static uint32_t *slot(uint32_t a)
{
	for (unsigned i = 0; i < m.n; i++)
		if (m.addr[i] == a)
			return &m.val[i];
	cr_assert(m.n < 256);
	m.addr[m.n] = a;
	m.val[m.n] = 0;
	return &m.val[m.n++];
}

static uint16_t truth(unsigned row, unsigned col)
{
	return (uint16_t)(row * 64u + col + 1u);
}

static int single_row(void)
{
	int r = -1;
	for (int i = 0; i < 64; i++)
		if ((m.outputs >> i) & 1u) {
			cr_assert_eq(r, -1, "two rows driven high: %d and %d", r, i);
			r = i;
		}
	return r;
}

static void adc_convert(void)
{
	cr_assert(m.dma_rearmed, "SWSTART without re-arming the ADC's DMA bit");
	m.dma_rearmed = false;
	cr_assert(*slot(DMA2_S0CR) & DMA_SCR_EN, "conversion with the DMA stream off");
	cr_assert_not_null(m.dma);
	cr_assert_eq(*slot(DMA2_S0M0AR), (uint32_t)(uintptr_t)m.dma);
	cr_assert_eq(*slot(DMA2_S0PAR), ADC1_DR_ADDR);
	cr_assert_geq(m.tim - m.select_time, 4u, "converted before the mux settled");
	m.scans++;
	if (m.adc_dead)
		return;
	uint32_t len = ((*slot(ADC1_SQR1) >> 20) & 0xFu) + 1u;
	cr_assert_eq(*slot(DMA2_S0NDTR), len, "DMA count differs from the ADC sequence");
	unsigned sel = (m.portb >> 12) & 0xFu;
	int row = single_row();
	cr_assert_geq(row, 0, "conversion with no row driven");
	for (uint32_t k = 0; k < len; k++) {
		uint32_t ch = (*slot(ADC1_SQR3) >> (5u * k)) & 0x1Fu;
		cr_assert(ch >= 4 && ch < 8, "channel %u is not a mux input", ch);
		unsigned col = sel * len + (ch - 4u);
		m.dma[k] = col < m.cols ? truth((unsigned)row, col) : 0xFFFF;
	}
	*slot(DMA2_LISR) |= DMA_LISR_TCIF0;
}

static void gpiob(uint32_t bsrr)
{
	uint32_t old = m.portb;
	uint32_t now = (old | (bsrr & 0xFFFFu)) & ~(bsrr >> 16);
	m.portb = now;
	bool ser = (now >> 5) & 1u;
	bool clr = !((now >> 8) & 1u);
	if (clr)
		m.chain = 0;
	if (!((old >> 6) & 1u) && ((now >> 6) & 1u)) {
		m.srclk_pulses++;
		if (!clr)
			m.chain = (m.chain << 1) | (ser ? 1u : 0u);
	}
	if (!((old >> 7) & 1u) && ((now >> 7) & 1u))
		m.outputs = m.chain & (m.rows >= 64 ? ~0ull : ((1ull << m.rows) - 1u));
	if (((old ^ now) >> 12) & 0xFu) {
		m.select_time = m.tim;
		m.selects++;
	}
}

uint32_t reg_rd(uint32_t a)
{
	if (a == TIM2_CNT)
		return m.tim++;
	if (a == RCC_CR) {
		uint32_t v = *slot(a);
		if ((v & RCC_CR_HSEON) && m.hse_ok)
			v |= RCC_CR_HSERDY;
		if (v & RCC_CR_PLLON)
			v |= RCC_CR_PLLRDY;
		return v;
	}
	if (a == RCC_CFGR) {
		uint32_t v = *slot(a);
		return (v & ~RCC_CFGR_SWS_MASK) | ((v & 3u) << 2);
	}
	if (a >= UID_BASE && a < UID_BASE + 12u) {
		static const uint32_t uid[3] = {0x12345678u, 0x9ABCDEF0u, 0x0F1E2D3Cu};
		return uid[(a - UID_BASE) / 4u];
	}
	return *slot(a);
}

void reg_wr(uint32_t a, uint32_t v)
{
	if (a == GPIO_BSRR(GPIOB_BASE)) {
		gpiob(v);
		return;
	}
	if (a == DMA2_LIFCR) {
		*slot(DMA2_LISR) &= ~v;
		return;
	}
	if (a == ADC1_CR2) {
		uint32_t old = *slot(a);
		if ((old & ADC_CR2_DMA) && !(v & ADC_CR2_DMA))
			m.dma_rearmed = true;
		*slot(a) = v & ~ADC_CR2_SWSTART;
		if (v & ADC_CR2_SWSTART)
			adc_convert();
		return;
	}
	*slot(a) = v;
}

void fake_dma_target(volatile uint16_t *buf)
{
	m.dma = buf;
}

static void setup_model(uint16_t rows, uint16_t cols)
{
	memset(&m, 0, sizeof m);
	m.hse_ok = true;
	m.rows = rows;
	m.cols = cols;
	m.portb = 1u << 8;                /* /SRCLR idle high */
	*slot(RCC_PLLCFGR) = 0x24003010u; /* reset value (RM0383 6.3.2) */
	board_time_init();
	board_matrix_init(rows, cols);
}

/* ------------------------------------------------------------------------ */

Test(board_f411, clock_tree_gives_96_and_48_mhz)
{
	setup_model(8, 8);
	cr_assert(board_clock_init());
	uint32_t pll = *slot(RCC_PLLCFGR);
	uint32_t pm = pll & 0x3Fu, pn = (pll >> 6) & 0x1FFu, pp = 2u * (((pll >> 16) & 3u) + 1u);
	uint32_t pq = (pll >> 24) & 0xFu;
	cr_assert(pll & RCC_PLLCFGR_SRC_HSE);
	cr_assert(pll & (1u << 29), "reserved bit keeps its reset value");
	uint32_t vco_in = 25000000u / pm, vco = vco_in * pn;
	cr_assert(vco_in >= 1000000u && vco_in <= 2000000u, "VCO input %u", vco_in);
	cr_assert(vco >= 100000000u && vco <= 432000000u, "VCO %u", vco);
	cr_assert_eq(vco / pp, BOARD_SYSCLK_HZ);
	cr_assert_eq(vco / pq, 48000000u, "USB needs exactly 48 MHz");
	uint32_t cfgr = *slot(RCC_CFGR);
	cr_assert_eq(cfgr & 3u, 2u, "SYSCLK from the PLL");
	cr_assert_eq((cfgr >> 4) & 0xFu, 0u, "AHB /1");
	cr_assert_eq((cfgr >> 10) & 7u, 4u, "APB1 /2 (<= 50 MHz)");
	cr_assert_eq((cfgr >> 13) & 7u, 0u, "APB2 /1");
	cr_assert_eq(*slot(FLASH_ACR) & 0xFu, 3u, "3 wait states above 90 MHz");
	cr_assert_eq(*slot(PWR_CR) & PWR_CR_VOS_MASK, PWR_CR_VOS_SCALE1);
	/* TIM2 runs from 2 x PCLK1 = 96 MHz: 1 MHz needs PSC 95. */
	cr_assert_eq(*slot(TIM2_PSC), 95u);
}

Test(board_f411, clock_falls_back_to_hsi_without_crystal)
{
	setup_model(8, 8);
	m.hse_ok = false;
	cr_assert_not(board_clock_init());
	uint32_t pll = *slot(RCC_PLLCFGR);
	cr_assert_eq(pll & RCC_PLLCFGR_SRC_HSE, 0u);
	cr_assert_eq(16000000u / (pll & 0x3Fu) * ((pll >> 6) & 0x1FFu) / 2u, BOARD_SYSCLK_HZ);
}

Test(board_f411, one_row_at_a_time)
{
	setup_model(64, 64);
	cr_assert_eq(m.outputs, 0u, "all rows low after init");
	/* The core's order: 0, 1, ..., rows-1, then release. */
	for (uint16_t r = 0; r < 64; r++) {
		unsigned before = m.srclk_pulses;
		board_select_row(r);
		cr_assert_eq(single_row(), r);
		if (r > 0)
			cr_assert_eq(m.srclk_pulses - before, 1u, "next row costs one clock");
	}
	board_select_row(KM_FW_NO_ROW);
	cr_assert_eq(m.outputs, 0u);
	/* Any order. */
	const uint16_t jumps[] = {5, 3, 40, 41, 0, 63, 2};
	for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) {
		board_select_row(jumps[i]);
		cr_assert_eq(single_row(), jumps[i]);
	}
	board_select_row(64); /* beyond the mat: released */
	cr_assert_eq(m.outputs, 0u);
}

static void check_grid(uint16_t rows, uint16_t cols)
{
	setup_model(rows, cols);
	uint32_t sqr1 = *slot(ADC1_SQR1);
	uint32_t muxes = ((sqr1 >> 20) & 0xFu) + 1u;
	cr_assert_eq(muxes, (cols + 15u) / 16u);
	for (uint32_t k = 0; k < muxes; k++)
		cr_assert_eq((*slot(GPIO_MODER(GPIOA_BASE)) >> (2u * (4u + k))) & 3u,
		             GPIO_MODE_ANALOG, "PA%u analog", 4u + k);
	for (uint16_t r = 0; r < rows; r++) {
		board_select_row(r);
		for (uint16_t c0 = 0; c0 < cols; c0 += KM_FW_ADC_GROUP) {
			uint16_t n =
			    (uint16_t)(cols - c0 < KM_FW_ADC_GROUP ? cols - c0 : KM_FW_ADC_GROUP);
			uint16_t out[KM_FW_ADC_GROUP];
			memset(out, 0xEE, sizeof out);
			cr_assert_eq(board_read_columns(c0, n, out), KM_OK);
			for (uint16_t i = 0; i < n; i++)
				cr_assert_eq(out[i], truth(r, (unsigned)(c0 + i)),
				             "%ux%u: cell %u,%u", rows, cols, r, c0 + i);
		}
	}
}

Test(board_f411, columns_map_to_mux_channels)
{
	check_grid(8, 64); /* 4 muxes */
	check_grid(4, 48); /* 3, the roller */
	check_grid(4, 32); /* 2 */
	check_grid(3, 20); /* 2, the last select half used */
	check_grid(2, 5);  /* 1 */
}

Test(board_f411, odd_column_ranges_and_errors)
{
	setup_model(4, 64);
	board_select_row(2);
	uint16_t out[16];
	cr_assert_eq(board_read_columns(5, 7, out), KM_OK);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(out[i], truth(2, 5u + (unsigned)i));
	cr_assert_eq(board_read_columns(60, 5, out), KM_ERR_RANGE);
	cr_assert_eq(board_read_columns(0, 0, out), KM_ERR_RANGE);
	m.adc_dead = true;
	cr_assert_eq(board_read_columns(0, 4, out), KM_ERR_TIMEOUT);
}

Test(board_f411, clock_is_64_bit_across_the_timer_wrap)
{
	setup_model(2, 2);
	m.tim = 0xFFFFFF00u;
	uint64_t a = board_time_us();
	m.tim = 0x10u; /* wrapped */
	uint64_t b = board_time_us();
	cr_assert_gt(b, a);
	cr_assert_eq(b, (1ull << 32) | 0x10u);
	uint32_t t0 = m.tim;
	board_delay_us(20);
	cr_assert_geq(m.tim - t0, 21u);
}

Test(board_f411, serial_from_unique_id)
{
	setup_model(2, 2);
	char s[32];
	board_serial(s, sizeof s);
	cr_assert_str_eq(s, "KM-123456789ABCDEF00F1E2D3C");
	char small[8] = "x";
	board_serial(small, sizeof small);
	cr_assert_str_eq(small, "x", "too small: untouched");
}

/* The firmware core scanning through this board layer. */
static void w_select(void *u, uint16_t r)
{
	(void)u;
	board_select_row(r);
}
static int w_read(void *u, uint16_t f, uint16_t n, uint16_t *o)
{
	(void)u;
	return board_read_columns(f, n, o);
}
static void w_delay(void *u, uint32_t us)
{
	(void)u;
	board_delay_us(us);
}
static uint64_t w_time(void *u)
{
	(void)u;
	return board_time_us();
}
static int w_bulk(void *u, const uint8_t *d, size_t n)
{
	(void)u;
	(void)d;
	(void)n;
	return KM_OK;
}

Test(board_f411, core_scans_the_board)
{
	setup_model(16, 48);
	static struct km_fw fw;
	struct km_fw_board b = {NULL, w_select, w_read, w_delay, w_time, w_bulk};
	struct km_fw_settings s = km_fw_settings_default();
	s.rows = 16;
	s.cols = 48;
	s.oversample = 2;
	cr_assert_eq(km_fw_init(&fw, &b, &s), KM_OK);
	bool sat = true;
	cr_assert_eq(km_fw_scan(&fw, &sat), KM_OK);
	cr_assert_not(sat);
	const uint16_t *c = km_fw_counts(&fw);
	for (unsigned r = 0; r < 16; r++)
		for (unsigned col = 0; col < 48; col++)
			cr_assert_eq(c[r * 48 + col], truth(r, col));
	cr_assert_eq(m.outputs, 0u, "rows released after the scan");
}
