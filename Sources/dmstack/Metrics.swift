import ArgumentParser
import StackEngine
import StackModel

/// `dmstack metrics`: the Prometheus exposition of volumes, damage, outbox and monitor.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the machine's state as Prometheus metrics (text exposition format).",
        discussion: """
            dmstack_volumes{state} (ok, degraded, gone: the devices of the registered holder \
            chains), dmstack_damaged_files and dmstack_damaged_file_bytes per filesystem \
            (fs_uuid, mountpoint), dmstack_damaged_metadata_ranges, dmstack_damaged_devices, \
            dmstack_device_damage_ranges{device,what}, dmstack_damage_cleared_total{reason}, \
            dmstack_outbox_deliveries{sink,state}, dmstack_outbox_events{kind} and \
            dmstack_last_monitor_pass_timestamp_seconds. monitor --metrics-file keeps the same \
            text in a file for node_exporter's textfile collector.
            """
    )
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try reportingFailures {
            print(try StackEngine.Metrics(engine: Machine.live, registry: try registry.store.openForReading(), time: Machine.time).exposition(), terminator: "")
        }
    }
}
