/* A process for the kernel-behaviour suite (Tests/LiveTests/VMKernelBehaviourTests.swift):
 * it maps a file (or only holds it open) and records the SIGBUS it gets, with si_code and
 * the faulting address as an offset into the file, so that a test can compare what the
 * kernel did with what `dmstack simulate` said. Built in the guest with cc.
 *
 *   sigbus-probe map FILE OUT           mmap FILE shared, read every page, wait
 *   sigbus-probe open FILE OUT          hold FILE open, no mapping, wait
 *   sigbus-probe poison FILE OUT PAGE   as map, then madvise(MADV_HWPOISON) page PAGE (root)
 *
 * OUT.ready is written once set up (its content: the pid). On SIGBUS, OUT gets one line
 * `SIGBUS code=NAME offset=N` and the process exits 0; SIGTERM ends it without a line.
 * With poison, a madvise that returns writes `madvise=RC errno=E` to OUT.poison.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;
static size_t length;
static int out = -1;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    const char *code = "other";
    if (info->si_code == BUS_MCEERR_AR) code = "BUS_MCEERR_AR";
    else if (info->si_code == BUS_MCEERR_AO) code = "BUS_MCEERR_AO";
    else if (info->si_code == BUS_ADRERR) code = "BUS_ADRERR";
    else if (info->si_code == SI_USER) code = "SI_USER";
    long offset = -1;
    char *addr = info->si_addr;
    if (base && addr >= base && addr < base + length) offset = addr - base;
    char line[128];
    int n = snprintf(line, sizeof line, "SIGBUS code=%s offset=%ld\n", code, offset);
    if (n > 0 && write(out, line, (size_t)n) < 0) _exit(3);
    fsync(out);
    _exit(0);
}

static int file_with(const char *path, const char *suffix, const char *text) {
    char name[4096];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    if (text && write(fd, text, strlen(text)) < 0) { close(fd); return -1; }
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sigbus-probe map|open|poison FILE OUT [PAGE]\n");
        return 64;
    }
    const char *mode = argv[1], *file = argv[2], *outPath = argv[3];
    out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) { perror(outPath); return 1; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    /* The test runner blocks some signals; its children inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGBUS);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    int fd = open(file, O_RDONLY);
    if (fd < 0) { perror(file); return 1; }
    if (strcmp(mode, "open") != 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size == 0) { perror("fstat"); return 1; }
        length = (size_t)st.st_size;
        base = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) { perror("mmap"); return 1; }
        volatile char sum = 0;
        for (size_t at = 0; at < length; at += 4096) sum += base[at];
        (void)sum;
    }
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (strcmp(mode, "poison") == 0) {
        if (argc < 5) { fprintf(stderr, "poison needs PAGE\n"); return 64; }
        long page = strtol(argv[4], NULL, 10);
        if (file_with(outPath, ".ready", pid) != 0) return 1;
        int rc = madvise(base + page * 4096, 4096, MADV_HWPOISON);
        char text[64];
        snprintf(text, sizeof text, "madvise=%d errno=%d\n", rc, rc == 0 ? 0 : errno);
        file_with(outPath, ".poison", text);
        /* Late kill: the poisoned page is touched again, as an application would. */
        volatile char again = base[page * 4096];
        (void)again;
    } else if (file_with(outPath, ".ready", pid) != 0) {
        return 1;
    }
    for (;;) pause();
}
