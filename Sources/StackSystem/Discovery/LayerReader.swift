import StackModel

/// Discovery of one kind of non-dm layer (md arrays: `MdReader`, `/sys/block/mdX/md/`, md.rst):
/// from a block device's sysfs directory, its `LayerInfo` (kind, table lines in the printed
/// form of the kind's target type, status lines), or nil when the device is not of this kind.
/// The model translates it like any dm table; a new kind is one conforming type here plus one
/// line in `LayerReaders.all`, beside its target type in StackModel/Targets.
public protocol LayerReader: Sendable {
    /// The device `name`'s layer, read under `base` (`/sys/class/block/NAME`).
    static func layer(name: String, base: String, sysfs: SysfsRoot) -> LayerInfo?
}

/// Every non-dm layer reader, asked in order for each device that is not a dm device.
public enum LayerReaders {
    public static let all: [any LayerReader.Type] = [MdReader.self]

    static func layer(name: String, base: String, sysfs: SysfsRoot) -> LayerInfo? {
        for reader in all { if let layer = reader.layer(name: name, base: base, sysfs: sysfs) { return layer } }
        return nil
    }
}
