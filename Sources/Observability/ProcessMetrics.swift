import Prometheus
import Synchronization

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics of Prometheus client libraries, read from `/proc/self`.
final class ProcessMetrics: Sendable {
    let cpuSeconds: Counter
    /// /proc reports the absolute CPU time; the counter is advanced by the difference.
    private let reportedCPUSeconds = Mutex<Double>(0)
    let residentBytes: Gauge
    let virtualBytes: Gauge
    let openFileDescriptors: Gauge
    let maxFileDescriptors: Gauge
    let startTimeSeconds: Gauge
    let threads: Gauge

    init(registry: PrometheusCollectorRegistry) {
        cpuSeconds = registry.makeCounter(descriptor: MetricsRegistry.descriptor("process_cpu_seconds_total", "Total user and system CPU time spent, in seconds."))
        residentBytes = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_resident_memory_bytes", "Resident memory size in bytes."))
        virtualBytes = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_virtual_memory_bytes", "Virtual memory size in bytes."))
        openFileDescriptors = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_open_fds", "Number of open file descriptors."))
        maxFileDescriptors = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_max_fds", "Maximum number of open file descriptors."))
        startTimeSeconds = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds."))
        threads = registry.makeGauge(descriptor: MetricsRegistry.descriptor("process_threads", "Number of OS threads in the process."))
    }

    func refresh() {
        #if os(Linux)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = Self.read("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, threads 20, starttime 22, vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
            if let user = field(14), let system = field(15) {
                let total = (user + system) / ticksPerSecond
                let delta = reportedCPUSeconds.withLock { reported in
                    defer { reported = max(reported, total) }
                    return max(0, total - reported)
                }
                if delta > 0 { cpuSeconds.increment(by: delta) }
            }
            if let count = field(20) { threads.set(count) }
            if let vsize = field(23) { virtualBytes.set(vsize) }
            if let rss = field(24) { residentBytes.set(rss * pageSize) }
            if let start = field(22), let boot = Self.bootTime() { startTimeSeconds.set(boot + start / ticksPerSecond) }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFileDescriptors.set(Double(entries.count))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            maxFileDescriptors.set(Double(limit.rlim_cur))
        }
        #endif
    }

    private static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func bootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
