// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "dmstack",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dmstack", targets: ["dmstack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libdevmapper: the kernel's own userspace interface to device-mapper ioctls.
        .systemLibrary(
            name: "CDeviceMapper",
            pkgConfig: "devmapper",
            providers: [.apt(["libdevmapper-dev"])]
        ),
        // libblkid: filesystem and partition-table probing, as util-linux does it.
        .systemLibrary(
            name: "CBlkid",
            pkgConfig: "blkid",
            providers: [.apt(["libblkid-dev"])]
        ),
        // libyaml: the reference YAML 1.1 parser, for specs (keeps Foundation out of the binary;
        // every node carries its line, so spec errors can name it).
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // SQLite, used through its C API: the holder registry (WAL, transactions, migrations by
        // user_version). GRDB would bring full Foundation and ICU into every dmstack start.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Linux ioctl structures Swift cannot import directly (GETFSMAP, FIEMAP, ...), and
        // libcurl for the Alertmanager sink, opened with dlopen on first use (its header from
        // Debian's libcurl4-openssl-dev; linking it would load ~30 libraries at every start).
        .target(name: "CLinux", linkerSettings: [.linkedLibrary("devmapper")]),
        // Pure model: no I/O. Tables, ranges, translation, snapshots, decisions.
        .target(name: "StackModel"),
        // The live machine: the only module that touches the OS.
        .target(
            name: "StackSystem",
            dependencies: ["StackModel", "CDeviceMapper", "CBlkid", "CLinux", "CYAML", "CSQLite"]
        ),
        // One engine protocol, a live and a snapshot implementation.
        .target(name: "StackEngine", dependencies: ["StackModel", "StackSystem"]),
        .executableTarget(
            name: "dmstack",
            dependencies: [
                "StackModel",
                "StackSystem",
                "StackEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "dmstack-bench",
            dependencies: ["StackModel", "TestSupport"],
            path: "Benchmarks/dmstack-bench"
        ),
        // What tests (and the benchmark inputs) share: a seeded generator and a process runner.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "StackModelTests", dependencies: ["StackModel", "TestSupport"]),
        .testTarget(name: "StackSystemTests", dependencies: ["StackSystem", "StackModel"]),
        // The use cases over the snapshot engine, a temporary registry and a fixed time: what
        // otherwise only root on the host or the VM exercises.
        .testTarget(name: "StackEngineTests", dependencies: ["StackEngine", "StackSystem", "StackModel"]),
        // Root-only tests on real devices: skip with the reason elsewhere; run as root on the
        // host (loop, partitions, XFS, ext4) and in the test VM (device-mapper, pmem).
        // The JSON checks of tests: real output against the schemas in docs/json.
        .target(name: "JSONSchemaCheck", path: "Tests/JSONSchemaCheck"),
        .testTarget(name: "LiveTests", dependencies: ["dmstack", "StackModel", "JSONSchemaCheck", "TestSupport"]),
        .testTarget(name: "dmstackTests", dependencies: ["dmstack", "StackModel", "JSONSchemaCheck", "TestSupport"]),
    ]
)
