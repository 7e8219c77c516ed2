/*
 * One process-wide lock around every FFTW call that is not fftwf_execute*:
 * the planner, plan destruction, wisdom and fftwf_malloc/free are not
 * thread-safe (FFTW manual, "Thread safety"). Every dsp object that plans
 * (bandpass, welch, ...) takes this lock. Internal: km__ names.
 */
#ifndef KNOTMAP_DSP_FFTW_LOCK_H
#define KNOTMAP_DSP_FFTW_LOCK_H

void km__fftw_lock(void);
void km__fftw_unlock(void);

#endif
