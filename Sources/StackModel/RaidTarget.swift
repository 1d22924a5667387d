/// md raid5/6 layouts, with the numbers of drivers/md/raid5.h (`ALGORITHM_*`), as dm-raid.c's
/// `raid_types[]` table selects them by name.
public enum RaidAlgorithm: Int, Sendable, Hashable {
    case leftAsymmetric = 0, rightAsymmetric = 1, leftSymmetric = 2, rightSymmetric = 3
    case parity0 = 4, parityN = 5
    case rotatingZeroRestart = 8, rotatingNRestart = 9, rotatingNContinue = 10
    case leftAsymmetric6 = 16, rightAsymmetric6 = 17, leftSymmetric6 = 18, rightSymmetric6 = 19
    case parity0_6 = 20
}

/// raid10 copy placement (md raid10.c `setup_geo`, dm-raid.c `raid10_format_to_md_layout`).
public enum Raid10Format: String, Sendable, Hashable {
    case near, far, offset
}

/// dm-raid.c: `raid <type> <#params> <chunk> [params] <#devs> (<meta|-> <data|->)+`.
public struct RaidTarget: Hashable, Sendable {
    /// One leg: its metadata device and data device, either of which may be absent (`-`).
    public struct Leg: Hashable, Sendable {
        public var metadata: String?
        public var data: String?
    }

    /// The dm-raid type name as written (`raid5_ls`, `raid10`, `raid6_zr`, ...).
    public var typeName: String
    /// md personality: 0, 1, 5 (raid4 and raid5), 6 or 10.
    public var level: Int
    public var algorithm: RaidAlgorithm
    /// Parity devices per stripe: 1 for raid4/5, 2 for raid6, 0 otherwise.
    public var parityDevices: Int
    public var chunkSectors: UInt64
    public var raid10Format: Raid10Format
    public var raid10Copies: Int
    /// `raid10_use_near_sets`: without it dm-raid sets RAID10_USE_FAR_SETS for far/offset.
    public var raid10UseNearSets: Bool
    /// `data_offset`: where data begins on every data device (0 unless given).
    public var dataOffset: UInt64
    public var journalDevice: String?
    public var legs: [Leg]

    public var raidDisks: Int { legs.count }
    /// dm-raid.c `raid_types[]`: name → (md level, parity devices, algorithm, raid10 format).
    static let types: [String: (level: Int, parity: Int, algorithm: RaidAlgorithm, format: Raid10Format?)] = [
        "raid0": (0, 0, .leftAsymmetric, nil),
        "raid1": (1, 0, .leftAsymmetric, nil),
        "raid10": (10, 0, .leftAsymmetric, .near),
        "raid10_near": (10, 0, .leftAsymmetric, .near),
        "raid10_far": (10, 0, .leftAsymmetric, .far),
        "raid10_offset": (10, 0, .leftAsymmetric, .offset),
        "raid4": (5, 1, .parity0, nil),
        "raid5_n": (5, 1, .parityN, nil),
        "raid5_ls": (5, 1, .leftSymmetric, nil),
        "raid5_rs": (5, 1, .rightSymmetric, nil),
        "raid5_la": (5, 1, .leftAsymmetric, nil),
        "raid5_ra": (5, 1, .rightAsymmetric, nil),
        "raid6_zr": (6, 2, .rotatingZeroRestart, nil),
        "raid6_nr": (6, 2, .rotatingNRestart, nil),
        "raid6_nc": (6, 2, .rotatingNContinue, nil),
        "raid6_n_6": (6, 2, .parityN, nil),
        "raid6_ls_6": (6, 2, .leftSymmetric6, nil),
        "raid6_rs_6": (6, 2, .rightSymmetric6, nil),
        "raid6_la_6": (6, 2, .leftAsymmetric6, nil),
        "raid6_ra_6": (6, 2, .rightAsymmetric6, nil),
    ]

    /// dm-raid.c `parse_raid_params`: optional keywords and how many value words each takes.
    static let parameterArity: [String: Int] = [
        "sync": 0, "nosync": 0, "raid10_use_near_sets": 0,
        "rebuild": 1, "write_mostly": 1, "daemon_sleep": 1, "min_recovery_rate": 1,
        "max_recovery_rate": 1, "max_write_behind": 1, "writebehind": 1, "stripe_cache": 1,
        "region_size": 1, "raid10_copies": 1, "raid10_format": 1, "data_offset": 1,
        "delta_disks": 1, "journal_dev": 1, "journal_mode": 1,
    ]
}
