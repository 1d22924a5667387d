#include "CLinux.h"
#include <sys/ioctl.h>

int clinux_getfsmap(int fd, struct fsmap_head *head) { return ioctl(fd, FS_IOC_GETFSMAP, head); }
int clinux_fiemap(int fd, struct fiemap *map) { return ioctl(fd, FS_IOC_FIEMAP, map); }
int clinux_freeze(int fd) { return ioctl(fd, FIFREEZE, 0); }
int clinux_thaw(int fd) { return ioctl(fd, FITHAW, 0); }
int clinux_blkgetsize64(int fd, uint64_t *bytes) { return ioctl(fd, BLKGETSIZE64, bytes); }
size_t clinux_fsmap_head_size(uint32_t count) { return sizeof(struct fsmap_head) + (size_t)count * sizeof(struct fsmap); }
size_t clinux_fiemap_size(uint32_t count) { return sizeof(struct fiemap) + (size_t)count * sizeof(struct fiemap_extent); }
