/* qcompile's instruction-counting plugin for QEMU user-mode emulation (TCG plugin API v1).
 *
 * Loaded with: qemu-aarch64 -plugin libqc_icount.so,marker=ADDR,out=FILE PROGRAM ...
 * Every translated block adds its instruction count to one counter (an inline add, executed
 * each time the block runs: exact and cheap). Each time the block starting at ADDR (the test
 * program's qc_bench_mark) runs, the counter is appended to FILE as one decimal line.
 *
 * The few declarations of QEMU's plugin interface this file uses are written out here
 * (Debian ships no qemu-plugin.h); their types and values are those of QEMU's stable plugin
 * ABI (QEMU_PLUGIN_VERSION 1, QEMU 5.x to 8.x).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QC_EXPORT __attribute__((visibility("default")))

typedef uint64_t qc_plugin_id;
struct qemu_plugin_tb;

enum { QC_INLINE_ADD_U64 = 0 };  /* enum qemu_plugin_op */
enum { QC_CB_NO_REGS = 0 };      /* enum qemu_plugin_cb_flags */

extern void qemu_plugin_register_vcpu_tb_trans_cb(qc_plugin_id id,
                                                  void (*cb)(qc_plugin_id id, struct qemu_plugin_tb *tb));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op, void *ptr, uint64_t imm);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, void (*cb)(unsigned int vcpu, void *udata),
                                                 int flags, void *udata);
extern void qemu_plugin_register_atexit_cb(qc_plugin_id id, void (*cb)(qc_plugin_id id, void *udata), void *udata);

QC_EXPORT int qemu_plugin_version = 1;

static uint64_t qc_count;
static uint64_t qc_marker;
static FILE *qc_out;

static void qc_mark(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    fprintf(qc_out, "%llu\n", (unsigned long long)qc_count);
}

static void qc_translate(qc_plugin_id id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QC_INLINE_ADD_U64, &qc_count, qemu_plugin_tb_n_insns(tb));
    if (qemu_plugin_tb_vaddr(tb) == qc_marker) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, qc_mark, QC_CB_NO_REGS, NULL);
    }
}

static void qc_exit(qc_plugin_id id, void *udata) {
    (void)id;
    (void)udata;
    fclose(qc_out);
}

QC_EXPORT int qemu_plugin_install(qc_plugin_id id, const void *info, int argc, char **argv) {
    const char *path = NULL;
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "marker=", 7) == 0) {
            qc_marker = strtoull(argv[i] + 7, NULL, 0);
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        }
    }
    if (path == NULL || qc_marker == 0 || (qc_out = fopen(path, "w")) == NULL) {
        fputs("qc_icount: needs marker=ADDR and a writable out=FILE\n", stderr);
        return 1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, qc_translate);
    qemu_plugin_register_atexit_cb(id, qc_exit, NULL);
    return 0;
}
