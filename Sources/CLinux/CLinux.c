#define _GNU_SOURCE
#include "CLinux.h"
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <spawn.h>
#include <string.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/dm-ioctl.h>
#include <dlfcn.h>
#include <curl/curl.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <malloc.h>

int clinux_getfsmap(int fd, struct fsmap_head *head) { return ioctl(fd, FS_IOC_GETFSMAP, head); }
int clinux_fiemap(int fd, struct fiemap *map) { return ioctl(fd, FS_IOC_FIEMAP, map); }
long long clinux_xflags(int fd) {
    struct fsxattr x;
    return ioctl(fd, FS_IOC_FSGETXATTR, &x) == 0 ? (long long)x.fsx_xflags : -1;
}
int clinux_malloc_trim(void) { return malloc_trim(0); }
size_t clinux_heap_in_use(void) { return mallinfo2().uordblks; }
int clinux_freeze(int fd) { return ioctl(fd, FIFREEZE, 0); }
int clinux_thaw(int fd) { return ioctl(fd, FITHAW, 0); }
int clinux_blkgetsize64(int fd, uint64_t *bytes) { return ioctl(fd, BLKGETSIZE64, bytes); }
int clinux_o_direct(void) { return O_DIRECT; }
int clinux_o_tmpfile(void) { return O_TMPFILE; }
size_t clinux_fsmap_head_size(uint32_t count) { return sizeof(struct fsmap_head) + (size_t)count * sizeof(struct fsmap); }
size_t clinux_fiemap_size(uint32_t count) { return sizeof(struct fiemap) + (size_t)count * sizeof(struct fiemap_extent); }

unsigned clinux_major(uint64_t dev) { return major((dev_t)dev); }
unsigned clinux_minor(uint64_t dev) { return minor((dev_t)dev); }
uint64_t clinux_makedev(unsigned ma, unsigned mi) { return (uint64_t)makedev(ma, mi); }

static __thread char dm_last_error[1024];

static void capture_log(int level, const char *file, int line, int dm_errno_or_class, const char *format, ...) {
    (void)file; (void)line; (void)dm_errno_or_class;
    if ((level & 7) > 3) return; /* keep _LOG_ERR and worse; drop warnings, notices, debug */
    va_list ap;
    va_start(ap, format);
    vsnprintf(dm_last_error, sizeof dm_last_error, format, ap);
    va_end(ap);
}

void clinux_dm_capture_log(void) { dm_log_with_errno_init(capture_log); }
const char *clinux_dm_last_error(void) { return dm_last_error; }
void clinux_dm_clear_error(void) { dm_last_error[0] = 0; }
uint32_t clinux_dm_deps_count(const void *deps) { return ((const struct dm_deps *)deps)->count; }
uint64_t clinux_dm_deps_device(const void *deps, uint32_t i) { return ((const struct dm_deps *)deps)->device[i]; }
long clinux_dm_list_names(char *buf, size_t size) {
    struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
    if (!dmt) return -1;
    long need = -1;
    if (dm_task_run(dmt)) {
        struct dm_names *names = dm_task_get_names(dmt);
        need = 0;
        /* An empty list is one entry with dev 0; `next` is the offset of the following one. */
        if (names && names->dev) {
            for (;;) {
                size_t n = strlen(names->name) + 1;
                if ((size_t)need + n <= size) memcpy(buf + need, names->name, n);
                need += (long)n;
                if (!names->next) break;
                names = (struct dm_names *)((char *)names + names->next);
            }
        }
    }
    dm_task_destroy(dmt);
    return need;
}

/* A hook must not inherit dmstack's other descriptors (a caller's pipes would stay open while it runs). */
int clinux_spawn_close_from(posix_spawn_file_actions_t *actions, int from) { return posix_spawn_file_actions_addclosefrom_np(actions, from); }

/* The kernel's uevents (NETLINK_KOBJECT_UEVENT, group 1: what udevd itself listens to), so
 * the monitor needs no udevd. Returns the socket, or -1 with errno. */
int clinux_uevent_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (fd < 0) return -1;
    struct sockaddr_nl a;
    memset(&a, 0, sizeof a);
    a.nl_family = AF_NETLINK;
    a.nl_groups = 1;
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/* DM_DEV_ARM_POLL on /dev/mapper/control (dm-ioctl 4.37, Linux 4.13): the descriptor then
 * polls readable once any dm device raises an event (a raid leg failing, a mirror degrading,
 * a thin pool crossing its threshold). drivers/md/dm-ioctl.c dm_poll / dev_arm_poll. */
int clinux_dm_arm_poll(int control) {
    struct dm_ioctl dmi;
    memset(&dmi, 0, sizeof dmi);
    dmi.version[0] = DM_VERSION_MAJOR;
    dmi.version[1] = 37;
    dmi.version[2] = 0;
    dmi.data_size = sizeof dmi;
    return ioctl(control, DM_DEV_ARM_POLL, &dmi);
}

/* libcurl, opened on first use: linking it would load some 30 libraries (TLS, Kerberos, LDAP,
 * ...) at every dmstack start; only the Alertmanager sink needs it. The header gives the
 * types and constants; the functions come from dlsym. */
struct clinux_curl {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
};
static struct clinux_curl curl_api;
static int curl_state; /* 0 not tried, 1 ready, -1 unavailable */

static int clinux_curl_open(char *error, size_t size) {
    static char why[200];
    if (curl_state == 0) {
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        const char *e = h ? NULL : dlerror();
        snprintf(why, sizeof why, "%s", e ? e : "a libcurl function is missing or curl_global_init failed");
        curl_state = -1;
        if (h) {
#define SYM(field, name) *(void **)&curl_api.field = dlsym(h, name)
            SYM(global_init, "curl_global_init"); SYM(easy_init, "curl_easy_init"); SYM(easy_setopt, "curl_easy_setopt");
            SYM(easy_perform, "curl_easy_perform"); SYM(easy_getinfo, "curl_easy_getinfo"); SYM(easy_cleanup, "curl_easy_cleanup");
            SYM(easy_strerror, "curl_easy_strerror"); SYM(slist_append, "curl_slist_append"); SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
            if (curl_api.global_init && curl_api.easy_init && curl_api.easy_setopt && curl_api.easy_perform && curl_api.easy_getinfo
                && curl_api.easy_cleanup && curl_api.easy_strerror && curl_api.slist_append && curl_api.slist_free_all
                && curl_api.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
                curl_state = 1;
        }
    }
    if (curl_state != 1) snprintf(error, size, "libcurl.so.4 cannot be used (install libcurl4): %s", why);
    return curl_state == 1 ? 0 : -1;
}

struct clinux_reply { char *text; size_t size, used; };
static size_t clinux_curl_write(char *data, size_t one, size_t n, void *user) {
    struct clinux_reply *r = user;
    size_t len = one * n, room = r->size - 1 - r->used;
    if (len < room) room = len;
    memcpy(r->text + r->used, data, room);
    r->used += room;
    r->text[r->used] = 0;
    return len;
}

int clinux_http_post_json(const char *url, const void *body, size_t length, long timeout_ms, long *status,
                          char *error, size_t error_size, char *reply, size_t reply_size) {
    *status = 0;
    error[0] = 0;
    reply[0] = 0;
    if (clinux_curl_open(error, error_size) != 0) return -1;
    CURL *c = curl_api.easy_init();
    if (!c) { snprintf(error, error_size, "libcurl could not start"); return -1; }
    struct curl_slist *headers = curl_api.slist_append(NULL, "Content-Type: application/json");
    struct clinux_reply r = { reply, reply_size, 0 };
    CURLcode rc = curl_api.easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_POST, 1L);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)length);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_USERAGENT, "dmstack");
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_WRITEFUNCTION, clinux_curl_write);
    if (rc == CURLE_OK) rc = curl_api.easy_setopt(c, CURLOPT_WRITEDATA, &r);
    if (rc == CURLE_OK) rc = curl_api.easy_perform(c);
    if (rc == CURLE_OK) curl_api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else snprintf(error, error_size, "%s", curl_api.easy_strerror(rc));
    curl_api.slist_free_all(headers);
    curl_api.easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

int clinux_name_to_handle(const char *path, int *type, unsigned char *bytes, unsigned *length, unsigned size, int *mount_id) {
    unsigned char buffer[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    struct file_handle *h = (struct file_handle *)buffer;
    h->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, path, h, mount_id, 0) != 0) return -1;
    if (h->handle_bytes > size) { errno = EOVERFLOW; return -1; }
    memcpy(bytes, h->f_handle, h->handle_bytes);
    *length = h->handle_bytes;
    *type = h->handle_type;
    return 0;
}

int clinux_open_by_handle(int mount_fd, int type, const unsigned char *bytes, unsigned length, int flags) {
    unsigned char buffer[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    struct file_handle *h = (struct file_handle *)buffer;
    if (length > MAX_HANDLE_SZ) { errno = EINVAL; return -1; }
    h->handle_bytes = length;
    h->handle_type = type;
    memcpy(h->f_handle, bytes, length);
    return open_by_handle_at(mount_fd, h, flags);
}

// The freeze guardian (see CLinux.h). Why a forked child and not PR_SET_PDEATHSIG: the death
// signal follows the thread that forked, not the process (prctl(2)), and Swift runs work on
// other threads; a pipe's end of file comes only when every holder of the write end is gone.
// Why fork and not posix_spawn of dmstack itself: the child needs nothing but read and ioctl,
// and is up (holding the descriptors) the moment fork returns, with no exec to wait for.
int clinux_guardian_spawn(const int *fds, int count, int *disarm) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(p[0]); close(p[1]); errno = e; return -1; }
    if (pid == 0) {
        // Only async-signal-safe calls from here on (signal-safety(7)).
        struct sigaction ignore;
        memset(&ignore, 0, sizeof ignore);
        ignore.sa_handler = SIG_IGN;
        int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE};
        for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) sigaction(ignored[i], &ignore, NULL);
        close(p[1]);
        // Hold nothing else of the parent's: a pipe or socket end kept open here would keep
        // someone waiting for its end of file.
        struct rlimit limit;
        int max = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (int)limit.rlim_cur : 65536;
        for (int fd = 3; fd < max; fd++) {
            int keep = fd == p[0];
            for (int i = 0; i < count && !keep; i++) keep = fds[i] == fd;
            if (!keep) close(fd);
        }
        char byte;
        ssize_t n;
        do { n = read(p[0], &byte, 1); } while (n < 0 && errno == EINTR);
        if (n == 1) _exit(0);
        for (int i = count - 1; i >= 0; i--) ioctl(fds[i], FITHAW, 0);
        _exit(1);
    }
    close(p[0]);
    *disarm = p[1];
    return pid;
}

int clinux_guardian_disarm(int pid, int disarm) {
    char byte = 'd';
    ssize_t n;
    do { n = write(disarm, &byte, 1); } while (n < 0 && errno == EINTR);
    close(disarm);
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, 0); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : (errno = ECHILD, -1);
}
