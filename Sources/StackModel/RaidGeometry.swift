/// Where one chunk of a raid4/5/6 array lives: its data device and the parity devices of its
/// stripe. Follows drivers/md/raid5.c `raid5_compute_sector` for every layout dm-raid offers.
public struct ParityPlacement: Hashable, Sendable {
    public var dataDisk: Int
    public var pDisk: Int
    /// The Q syndrome's device for raid6, -1 for raid4/5.
    public var qDisk: Int
}

public enum RaidGeometry {
    /// drivers/md/raid5.c `raid5_compute_sector`: for the chunk `chunkNumber` of the array,
    /// the device holding it and the stripe's parity devices; the device sector of the chunk
    /// is `(chunkNumber / dataDisks) * chunkSectors`.
    public static func parityPlacement(level: Int, algorithm: RaidAlgorithm, raidDisks: Int,
                                       chunkNumber: UInt64) -> ParityPlacement {
        let maxDegraded = level == 6 ? 2 : 1
        let dataDisks = raidDisks - maxDegraded
        let stripe = chunkNumber / UInt64(dataDisks)
        var dd = Int(chunkNumber % UInt64(dataDisks))
        let n = UInt64(raidDisks)
        var pd = -1, qd = -1
        if level == 5 {
            switch algorithm {
            case .leftAsymmetric:
                pd = dataDisks - Int(stripe % n); if dd >= pd { dd += 1 }
            case .rightAsymmetric:
                pd = Int(stripe % n); if dd >= pd { dd += 1 }
            case .leftSymmetric:
                pd = dataDisks - Int(stripe % n); dd = (pd + 1 + dd) % raidDisks
            case .rightSymmetric:
                pd = Int(stripe % n); dd = (pd + 1 + dd) % raidDisks
            case .parity0:
                pd = 0; dd += 1
            default: // ALGORITHM_PARITY_N
                pd = dataDisks
            }
        } else if level == 6 {
            /// The "asymmetric" family: Q follows P, data skips both (raid5.c comments
            /// "Q D D D P" when P is on the last device).
            func asymmetric(_ p: Int) {
                pd = p; qd = pd + 1
                if pd == raidDisks - 1 { dd += 1; qd = 0 } else if dd >= pd { dd += 2 }
            }
            switch algorithm {
            case .leftAsymmetric: asymmetric(raidDisks - 1 - Int(stripe % n))
            case .rightAsymmetric: asymmetric(Int(stripe % n))
            case .leftSymmetric:
                pd = raidDisks - 1 - Int(stripe % n); qd = (pd + 1) % raidDisks; dd = (pd + 2 + dd) % raidDisks
            case .rightSymmetric:
                pd = Int(stripe % n); qd = (pd + 1) % raidDisks; dd = (pd + 2 + dd) % raidDisks
            case .parity0:
                pd = 0; qd = 1; dd += 2
            case .parityN:
                pd = dataDisks; qd = dataDisks + 1
            case .rotatingZeroRestart: asymmetric(Int(stripe % n))
            case .rotatingNRestart: asymmetric(raidDisks - 1 - Int((stripe + 1) % n))
            case .rotatingNContinue:
                pd = raidDisks - 1 - Int(stripe % n); qd = (pd + raidDisks - 1) % raidDisks; dd = (pd + 1 + dd) % raidDisks
            case .leftAsymmetric6:
                pd = dataDisks - Int(stripe % (n - 1)); if dd >= pd { dd += 1 }; qd = raidDisks - 1
            case .rightAsymmetric6:
                pd = Int(stripe % (n - 1)); if dd >= pd { dd += 1 }; qd = raidDisks - 1
            case .leftSymmetric6:
                pd = dataDisks - Int(stripe % (n - 1)); dd = (pd + 1 + dd) % (raidDisks - 1); qd = raidDisks - 1
            case .rightSymmetric6:
                pd = Int(stripe % (n - 1)); dd = (pd + 1 + dd) % (raidDisks - 1); qd = raidDisks - 1
            case .parity0_6:
                pd = 0; dd += 1; qd = raidDisks - 1
            }
        }
        // md level 4 (parity on the last device) is not reachable: dm-raid's raid4 is md
        // level 5 with ALGORITHM_PARITY_0 (dm-raid.c raid_types[]).
        return ParityPlacement(dataDisk: dd, pDisk: pd, qDisk: qd)
    }
}

/// md raid10 geometry as drivers/md/raid10.c `setup_geo` and `calc_sectors` derive it from the
/// layout dm-raid.c `raid10_format_to_md_layout` builds.
public struct Raid10Geometry: Hashable, Sendable {
    public var raidDisks: Int
    public var nearCopies: Int
    public var farCopies: Int
    public var farOffset: Bool
    public var farSetSize: Int
    public var chunkSectors: UInt64
    /// Distance between far copies on one device (raid10.c `geo->stride`).
    public var stride: UInt64
    /// Sectors used on each device.
    public var deviceSectors: UInt64

    public var copies: Int { nearCopies * farCopies }

    /// Geometry for a dm-raid raid10 target of `length` sectors.
    public init(raid: RaidTarget, length: UInt64) {
        raidDisks = raid.raidDisks
        chunkSectors = raid.chunkSectors
        let copies = raid.raid10Copies
        switch raid.raid10Format {
        case .near: nearCopies = copies; farCopies = 1; farOffset = false
        case .far: nearCopies = 1; farCopies = copies; farOffset = false
        case .offset: nearCopies = 1; farCopies = copies; farOffset = true
        }
        // RAID10_USE_FAR_SETS (layout bit 18) is set for far/offset unless raid10_use_near_sets;
        // setup_geo then uses far_set_size = far_copies * near_copies, otherwise raid_disks.
        let useFarSets = raid.raid10Format != .near && !raid.raid10UseNearSets
        farSetSize = useFarSets ? nearCopies * farCopies : raidDisks
        // dm-raid rs_set_dev_and_array_sectors: dev_sectors = len * copies / raid_disks, then
        // raid10.c calc_sectors.
        deviceSectors = 0
        stride = 0
        calcSectors(length * UInt64(copies) / UInt64(raidDisks))
    }

    /// md raid10's geometry as the array states it (md/layout, md/chunk_size, md/raid_disks,
    /// md/component_size): raid10.c `setup_geo` reads the layout word (near copies in bits 0-7,
    /// far copies in 8-15, far offset bit 16, the far-set version in bits 17-18: 0 sets of
    /// every device, 1 `raid_disks / far_copies` (the old buggy one), 2 `near * far`), and
    /// `calc_sectors` the sectors used on each device. Nil for a layout raid10.c refuses.
    public init?(mdLayout layout: Int, raidDisks: Int, chunkSectors: UInt64, componentSectors: UInt64) {
        guard layout >= 0, layout >> 19 == 0, chunkSectors >= 8, chunkSectors & (chunkSectors - 1) == 0, raidDisks > 0 else { return nil }
        let nc = layout & 255, fc = (layout >> 8) & 255
        guard nc >= 1, fc >= 1, nc * fc >= 2, nc * fc <= raidDisks else { return nil }
        self.raidDisks = raidDisks
        self.chunkSectors = chunkSectors
        nearCopies = nc
        farCopies = fc
        farOffset = layout & (1 << 16) != 0
        switch layout >> 17 {
        case 0: farSetSize = raidDisks
        case 1: farSetSize = raidDisks / fc
        default: farSetSize = fc * nc
        }
        guard farSetSize >= 1 else { return nil }
        deviceSectors = 0
        stride = 0
        calcSectors(componentSectors)
    }

    /// raid10.c `calc_sectors`: the chunks of the array from the device size, the chunks used
    /// on each device (rounded up), and the distance between far copies.
    private mutating func calcSectors(_ dev: UInt64) {
        let chunk = chunkSectors
        var c = dev / chunk
        c /= UInt64(farCopies)
        c *= UInt64(raidDisks)
        c /= UInt64(nearCopies)
        c = (c * UInt64(copies) + UInt64(raidDisks) - 1) / UInt64(raidDisks)
        deviceSectors = c * chunk
        stride = farOffset ? chunk : (c / UInt64(farCopies)) * chunk
    }

    /// raid10.c `__raid10_find_phys`: every (device, device sector) holding array sector `s`,
    /// near copies first, each followed by its far copies.
    public func copies(of s: UInt64) -> [(disk: Int, sector: UInt64)] {
        var out: [(disk: Int, sector: UInt64)] = []
        out.reserveCapacity(copies)
        let fss = farSetSize
        let lastFarSetStart = (raidDisks / fss - 1) * fss
        let lastFarSetSize = fss + raidDisks % fss
        var chunk = s / chunkSectors
        var sector = s % chunkSectors
        chunk *= UInt64(nearCopies)
        var stripe = chunk / UInt64(raidDisks)
        var dev = Int(chunk % UInt64(raidDisks))
        if farOffset { stripe *= UInt64(farCopies) }
        sector += stripe * chunkSectors
        for _ in 0..<nearCopies {
            var d = dev, sd = sector
            out.append((d, sd))
            for _ in 1..<max(farCopies, 1) where farCopies > 1 {
                let set = d / fss
                d += nearCopies
                if raidDisks % fss != 0 && d > lastFarSetStart {
                    d = ((d - lastFarSetStart) % lastFarSetSize) + lastFarSetStart
                } else {
                    d = (d % fss) + fss * set
                }
                sd += stride
                out.append((d, sd))
            }
            dev += 1
            if dev >= raidDisks { dev = 0; sector += chunkSectors }
        }
        return out
    }

    /// raid10.c `raid10_find_virt`: the array sector whose copy is at `sector` of `disk`.
    public func arraySector(disk: Int, sector deviceSector: UInt64) -> UInt64 {
        let fss = farSetSize
        var farSetStart = (disk / fss) * fss
        var farSetSize = fss
        if raidDisks % fss != 0 {
            let lastStart = (raidDisks / fss - 1) * fss
            if disk >= lastStart { farSetSize = fss + raidDisks % fss; farSetStart = lastStart }
        }
        let offset = deviceSector % chunkSectors
        var sector = deviceSector
        var dev = disk
        var chunk: UInt64
        if farOffset {
            chunk = sector / chunkSectors
            let k = Int(chunk % UInt64(farCopies))
            chunk /= UInt64(farCopies)
            dev -= k * nearCopies
            if dev < farSetStart { dev += farSetSize }
        } else {
            while sector >= stride {
                sector -= stride
                if dev < nearCopies + farSetStart { dev += farSetSize - nearCopies } else { dev -= nearCopies }
            }
            chunk = sector / chunkSectors
        }
        let v = (chunk * UInt64(raidDisks) + UInt64(dev)) / UInt64(nearCopies)
        return v * chunkSectors + offset
    }
}
