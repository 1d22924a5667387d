// Linux ioctl structures and request wrappers that Swift cannot import directly
// (variadic ioctl(2), macro-computed request numbers). No logic lives here.
#ifndef CLINUX_H
#define CLINUX_H

#include <linux/fs.h>
#include <linux/fsmap.h>
#include <linux/fiemap.h>
#include <stddef.h>
#include <stdint.h>

/// FS_IOC_GETFSMAP (include/uapi/linux/fsmap.h): the filesystem reverse map.
int clinux_getfsmap(int fd, struct fsmap_head *head);
/// FS_IOC_FIEMAP (include/uapi/linux/fiemap.h): a file's extent map.
int clinux_fiemap(int fd, struct fiemap *map);
/// FS_IOC_FSGETXATTR's fsx_xflags (include/uapi/linux/fs.h), or -1: FS_XFLAG_REALTIME says a
/// file's data is on an XFS realtime device.
long long clinux_xflags(int fd);
/// FIFREEZE / FITHAW (include/uapi/linux/fs.h).
int clinux_freeze(int fd);
int clinux_thaw(int fd);
/// BLKGETSIZE64: a block device's size in bytes.
int clinux_blkgetsize64(int fd, uint64_t *bytes);
/// O_DIRECT (fcntl.h, hidden from Swift behind _GNU_SOURCE; its value differs by architecture).
int clinux_o_direct(void);
/// O_TMPFILE (with O_DIRECTORY, as fcntl.h defines it; hidden behind _GNU_SOURCE too).
int clinux_o_tmpfile(void);
/// Bytes needed for a fsmap_head followed by `count` records.
size_t clinux_fsmap_head_size(uint32_t count);
/// Bytes needed for a fiemap followed by `count` extents.
size_t clinux_fiemap_size(uint32_t count);

/// malloc_trim(3) with no pad: the heap's free pages given back to the kernel (malloc.h,
/// which Swift's Glibc module does not import). A long-running monitor calls it after each
/// pass, so its resident memory is what it holds, not the high-water mark of its passes.
int clinux_malloc_trim(void);
/// mallinfo2(3)'s uordblks: bytes of the heap in use (allocated and not freed).
size_t clinux_heap_in_use(void);

/// major(3)/minor(3) of a dev_t as the kernel encodes it (libdevmapper `dm_deps` entries).
unsigned clinux_major(uint64_t dev);
unsigned clinux_minor(uint64_t dev);
/// makedev(3).
uint64_t clinux_makedev(unsigned major, unsigned minor);

/// libdevmapper logs through a variadic callback Swift cannot write: these route its error
/// messages into a per-thread buffer (read with clinux_dm_last_error) instead of stderr.
void clinux_dm_capture_log(void);
const char *clinux_dm_last_error(void);
void clinux_dm_clear_error(void);
/// Entry `i` of a `struct dm_deps` (its flexible array is not importable).
uint32_t clinux_dm_deps_count(const void *deps);
uint64_t clinux_dm_deps_device(const void *deps, uint32_t i);
/// DM_DEVICE_LIST: every dm device's name, each ended by a NUL, into `buf` (at most `size`
/// bytes): the bytes all the names need (more than `size`: call again with that), or -1 when
/// the list cannot be read. Lists devices without a table too, which have no block device yet.
long clinux_dm_list_names(char *buf, size_t size);


#include <spawn.h>
int clinux_spawn_close_from(posix_spawn_file_actions_t *actions, int from);
/// A NETLINK_KOBJECT_UEVENT socket bound to the kernel's group, non-blocking; -1 with errno.
int clinux_uevent_socket(void);
/// DM_DEV_ARM_POLL on an open /dev/mapper/control.
int clinux_dm_arm_poll(int control);
/// POST `body` as JSON to `url` with libcurl, loaded on first use (dlopen): 0 with the HTTP
/// status, or -1 with a one-line error; the reply's first bytes go to `reply`.
int clinux_http_post_json(const char *url, const void *body, size_t length, long timeout_ms, long *status,
                          char *error, size_t error_size, char *reply, size_t reply_size);
/// name_to_handle_at(2) of `path` (not following a last link): the file handle's type and up
/// to `size` bytes of it in `bytes` (its length in `*length`), the mount's id in `*mount_id`;
/// -1 with errno. The handle names the inode and its generation (fs/exportfs), so it goes
/// stale when the file is deleted, even if the inode number is reused.
int clinux_name_to_handle(const char *path, int *type, unsigned char *bytes, unsigned *length, unsigned size, int *mount_id);
/// open_by_handle_at(2) with the handle `clinux_name_to_handle` gave, relative to any open
/// file of its filesystem (`mount_fd`); -1 with errno (ESTALE: the file is gone).
int clinux_open_by_handle(int mount_fd, int type, const unsigned char *bytes, unsigned length, int flags);
/// The freeze guardian: forks a child that holds `fds` (the frozen filesystems' directories) and
/// the read end of a pipe whose write end (O_CLOEXEC) stays with the caller. The child ignores
/// the signals a terminal or service manager sends and blocks in read(2): one byte
/// (clinux_guardian_disarm) makes it exit without touching anything; end of file, which the
/// kernel makes happen however the caller dies (SIGKILL, the OOM killer), makes it FITHAW every
/// descriptor and exit. The child calls only async-signal-safe system calls (fork(2) of a
/// threaded process allows no more), which is why it is C and not Swift. Returns the child's
/// pid with `*disarm` set, or -1 with errno.
int clinux_guardian_spawn(const int *fds, int count, int *disarm);
/// Tells the guardian `pid` that everything is thawed (one byte, then close) and reaps it: 0 when
/// it exited as asked, -1 with errno otherwise.
int clinux_guardian_disarm(int pid, int disarm);
#endif
