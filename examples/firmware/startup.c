/* startup.c: vector table and reset handler of a bare-metal Cortex-M firmware.
 *
 * The core reads the initial stack pointer and the reset handler's address from the vector
 * table at address 0 (mps2-an500.ld places `.vectors` there). Reset copies .data from flash
 * to RAM, zeroes .bss (the model's arena lives there), turns on the FPU when the code is
 * compiled for one, runs main() and hands its result to the debugger or QEMU. Every fault
 * ends the run with exit code 100 + the exception number, so a crash never hangs.
 */
#include <stdint.h>

#include "semihost.h"

/* Defined by the linker script. */
extern uint32_t __stack_top;
extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;

int main(void);
void reset_handler(void);
void fault_handler(void);

void fault_handler(void) {
    uint32_t ipsr; /* the number of the active exception */
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    sh_puts("fault\n");
    sh_exit(100 + (int32_t)(ipsr & 0x1FFu));
}

void reset_handler(void) {
    uint32_t *src = &__data_load;
    uint32_t *dst = &__data_start;
    while (dst < &__data_end) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start; dst < &__bss_end; ++dst) {
        *dst = 0u;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to the FPU (coprocessors 10 and 11) before any floating-point instruction */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    sh_exit(main());
}

/* Initial stack pointer, then the 15 system exceptions of Armv6-M/Armv7-M/Armv8-M (no
 * interrupts are enabled, so no device vectors follow). */
__attribute__((section(".vectors"), used)) const uintptr_t vectors[16] = {
    (uintptr_t)&__stack_top,
    (uintptr_t)&reset_handler,
    (uintptr_t)&fault_handler, /* NMI */
    (uintptr_t)&fault_handler, /* HardFault */
    (uintptr_t)&fault_handler, /* MemManage */
    (uintptr_t)&fault_handler, /* BusFault */
    (uintptr_t)&fault_handler, /* UsageFault */
    (uintptr_t)&fault_handler, /* SecureFault */
    0u,
    0u,
    0u,
    (uintptr_t)&fault_handler, /* SVCall */
    (uintptr_t)&fault_handler, /* DebugMonitor */
    0u,
    (uintptr_t)&fault_handler, /* PendSV */
    (uintptr_t)&fault_handler, /* SysTick */
};
