import Synchronization

/// The newest 100,000 durations of something (a scheduling decision, a message's trip through the channel), in
/// milliseconds. A ring: recording is constant time on the measured path however long the process runs.
public final class LatencySamples: Sendable {
    static let capacity = 100_000
    private let samples = Mutex<(values: [Double], next: Int)>(([], 0))

    public init() {}

    public func record(_ duration: Duration) { record(milliseconds: duration.inMilliseconds) }

    public func record(milliseconds ms: Double) {
        samples.withLock { ring in
            if ring.values.count < Self.capacity {
                ring.values.append(ms)
            } else {
                ring.values[ring.next] = ms
            }
            ring.next = (ring.next + 1) % Self.capacity
        }
    }

    /// Every recorded duration (in no particular order), and forget them.
    public func drain() -> [Double] { samples.withLock { ring in defer { ring = ([], 0) }; return ring.values } }
}

/// Percentiles of measured samples, the one way Stratus computes them (benchmarks and latency logs).
public enum Percentile {
    /// The `p` percentile (0…1) of ascending `sorted` samples, nearest rank, rounded to 0.01; 0 for no samples.
    public static func of(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return (sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))] * 100).rounded() / 100
    }
}
