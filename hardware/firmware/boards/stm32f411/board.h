/*
 * STM32F411 "Black Pill" board layer: clocks, microsecond time base, the row
 * drivers (74HC595 chain) and the column multiplexers (74HC4067) read by
 * ADC1 through DMA2. Pin map and circuit: hardware/BUILD.md.
 *
 *   PA4..PA7   ADC1_IN4..IN7  <- COM of column mux 0..3
 *   PB12..PB15 mux S0..S3 (shared by every mux; /E tied to GND)
 *   PB5 SER, PB6 SRCLK, PB7 RCLK, PB8 /SRCLR  -> 74HC595 row chain (/OE to GND)
 *   PA11/PA12  USB D-/D+ (OTG_FS)      PC13 LED (active low)
 *   PH0/PH1    25 MHz crystal (HSE)
 *
 * Column c is channel c / muxes of mux c % muxes, so one ADC scan of the
 * `muxes` channels converts `muxes` neighbouring columns at one select value.
 * Everything here runs in the main loop (not reentrant, no interrupts).
 */
#ifndef KM_F411_BOARD_H
#define KM_F411_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOARD_SYSCLK_HZ 96000000u
#define BOARD_MAX_MUXES 4u /* ADC inputs PA4..PA7 */
#define BOARD_MUX_CHANNELS 16u

/* HSE 25 MHz -> PLL: VCO 192 MHz, SYSCLK 96 MHz, USB 48 MHz; APB1 48 MHz,
 * APB2 96 MHz; flash 3 wait states, voltage scale 1. Returns true when the
 * crystal started; false when it fell back to the 16 MHz HSI (same
 * frequencies, but HSI's +-1 % is outside USB's +-0.25 %: USB may fail). */
bool board_clock_init(void);

/* TIM2 as a free-running 1 MHz counter. */
void board_time_init(void);
/* Microseconds since board_time_init, 64-bit (extends TIM2's 32 bits; must
 * be called at least every 71 minutes, which the superloop does). */
uint64_t board_time_us(void);
void board_delay_us(uint32_t us);

/* GPIO, ADC1 (12 bit, 24 MHz, 28-cycle sampling), DMA2 stream 0. rows: the
 * 74HC595 chain length (8 per chip), cols <= 16 * BOARD_MAX_MUXES. */
void board_matrix_init(uint16_t rows, uint16_t cols);
/* Drives row `row` high and every other row low; KM_FW_NO_ROW: all low. */
void board_select_row(uint16_t row);
/* Converts columns first..first+n-1 of the selected row. KM_OK, or
 * KM_ERR_TIMEOUT when the DMA did not finish (ADC or DMA fault), KM_ERR_RANGE
 * for columns outside the mat. */
int board_read_columns(uint16_t first, uint16_t n, uint16_t *out);

void board_led(bool on);
/* "KM-" + the 96-bit unique ID in hex (27 characters + NUL); cap >= 28. */
void board_serial(char *out, size_t cap);

#endif /* KM_F411_BOARD_H */
