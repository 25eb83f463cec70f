import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time a process has used, user plus system, from `/proc/PID/stat` (Linux): what the
/// Party Sync benchmark divides by deliveries, so its cost is a figure of every run.
enum ProcessCPU {
    /// Seconds of CPU the process has used so far, or nil when it cannot be read.
    static func seconds(pid: Int) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return seconds(stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Parses a `/proc/PID/stat` line: fields 14 and 15 (utime, stime) in clock ticks, counted
    /// after the command name, which is in parentheses and may itself hold spaces and `)`.
    static func seconds(stat: String, ticksPerSecond: Double) -> Double? {
        guard ticksPerSecond > 0, let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the name: state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }
}
