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
#include <sys/sysmacros.h>

int clinux_getfsmap(int fd, struct fsmap_head *head) { return ioctl(fd, FS_IOC_GETFSMAP, head); }
int clinux_fiemap(int fd, struct fiemap *map) { return ioctl(fd, FS_IOC_FIEMAP, map); }
long long clinux_xflags(int fd) {
    struct fsxattr x;
    return ioctl(fd, FS_IOC_FSGETXATTR, &x) == 0 ? (long long)x.fsx_xflags : -1;
}
int clinux_freeze(int fd) { return ioctl(fd, FIFREEZE, 0); }
int clinux_thaw(int fd) { return ioctl(fd, FITHAW, 0); }
int clinux_blkgetsize64(int fd, uint64_t *bytes) { return ioctl(fd, BLKGETSIZE64, bytes); }
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
