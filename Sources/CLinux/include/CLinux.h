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
/// FIFREEZE / FITHAW (include/uapi/linux/fs.h).
int clinux_freeze(int fd);
int clinux_thaw(int fd);
/// BLKGETSIZE64: a block device's size in bytes.
int clinux_blkgetsize64(int fd, uint64_t *bytes);
/// Bytes needed for a fsmap_head followed by `count` records.
size_t clinux_fsmap_head_size(uint32_t count);
/// Bytes needed for a fiemap followed by `count` extents.
size_t clinux_fiemap_size(uint32_t count);

#endif
