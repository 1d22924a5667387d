# Sourced inside the VM: loads device-mapper, pmem, XFS and loop, and puts every emulated
# NVDIMM namespace in fsdax mode. Prints `note:` lines for what failed.
for m in nfit nd_pmem dm-mod dm-mirror dm-raid dm-snapshot dm-thin-pool dm-crypt dm-writecache dm-integrity \
         dm-cache dm-cache-smq dm-flakey dm-delay dm-multipath dm-round-robin xfs ext4 loop \
         md-mod linear raid0 raid1 raid456 raid10; do
    modprobe "$m" 2>/dev/null || echo "note: modprobe $m failed"
done
for ns in $(ndctl list -N 2>/dev/null | sed -n 's/.*"dev":"\(namespace[0-9.]*\)".*/\1/p'); do
    ndctl create-namespace -f -e "$ns" -m fsdax >/dev/null 2>&1 || echo "note: $ns to fsdax failed"
done
