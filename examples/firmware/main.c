/* main.c: run a qcompile model once on a built-in input and print its output over semihosting.
 *
 * The model is examples/digits/digits_cnn.onnx compiled for the Cortex-M7 (see README.md); for
 * your own model, include its header and use its <name>_run and <NAME>_* macros instead.
 * Prints the int8 output vector and its arg max, and returns digits_cnn_run's code: 0, or the
 * failing layer's index + 1. startup.c passes it on as the exit code of the run.
 */
#include <stdint.h>

#include "digits_cnn.h"
#include "semihost.h"

/* A handwritten 3 (examples/digits/test.npz, sample 64) as the model's int8 input: 8x8 pixels,
 * row by row, quantized with the input's scale and zero point (digits_cnn.h:
 * DIGITS_CNN_INPUT_SCALE, DIGITS_CNN_INPUT_ZERO_POINT; -128 is a blank pixel). */
static const int8_t digit[DIGITS_CNN_INPUT_SIZE] = {
    -128, -96,  111,  127,  127, 79,  -96,  -128,
    -128, -112, 31,   -1,   95,  127, -1,   -128,
    -128, -128, -128, -128, 127, 111, -112, -128,
    -128, -128, -128, -128, 127, -1,  -128, -128,
    -128, -128, -128, -128, 95,  95,  -128, -128,
    -128, -128, -128, -128, 47,  127, -112, -128,
    -128, -96,  95,   79,   127, 127, -80,  -128,
    -128, -96,  111,  127,  95,  -48, -128, -128,
};

static int8_t scores[DIGITS_CNN_OUTPUT_SIZE];

/* Print a decimal integer (no printf: it would pull in most of the C library). */
static void print_int(int32_t value) {
    char text[12];
    char *p = &text[sizeof(text) - 1];
    uint32_t magnitude = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0) {
        *--p = '-';
    }
    sh_puts(p);
}

int main(void) {
    int best = 0;
    int i;
    int rc = digits_cnn_run(digit, scores);
    if (rc != 0) {
        sh_puts("digits_cnn_run failed in layer ");
        print_int(rc - 1);
        sh_puts("\n");
        return rc;
    }
    sh_puts("output:");
    for (i = 0; i < DIGITS_CNN_OUTPUT_SIZE; ++i) {
        sh_puts(" ");
        print_int(scores[i]);
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    sh_puts("\nclass: ");
    print_int(best);
    sh_puts("\n");
    return 0;
}
