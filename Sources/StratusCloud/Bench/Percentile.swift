/// Percentiles of benchmark samples, the one way every benchmark computes them.
enum Percentile {
    /// The `p` percentile (0…1) of ascending `sorted` samples, nearest rank, rounded to 0.01; 0 for no samples.
    static func of(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return (sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))] * 100).rounded() / 100
    }
}
