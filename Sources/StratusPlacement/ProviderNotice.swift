/// What a notification on `PlacementSchema.changeChannel` says about one provider. The trigger of `placement.2`
/// announces every change as `uuid:generation` (`-1`: deleted); a claim adds the provider's usage after it as
/// `uuid:generation:CLASS=n,CLASS=n`, which a follower holding the generation before applies without a read.
enum ProviderNotice: Equatable, Sendable {
    case changed(provider: String, generation: Int)
    case usage(UsageNotice)

    init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let generation = Int(parts[1]) else { return nil }
        let provider = String(parts[0])
        guard parts.count == 3 else {
            self = .changed(provider: provider, generation: generation)
            return
        }
        var usage: [String: Int] = [:]
        for entry in parts[2].split(separator: ",") {
            let pair = entry.split(separator: "=")
            guard pair.count == 2, let amount = Int(pair[1]) else { return nil }
            usage[String(pair[0])] = amount
        }
        self = .usage(UsageNotice(provider: provider, generation: generation, usage: usage))
    }
}

/// A provider's usage at a generation that only allocations changed (a claim's commit).
struct UsageNotice: Equatable, Sendable {
    var provider: String
    var generation: Int
    var usage: [String: Int]

    /// The notification text; resource class names hold no `:`, `=` or `,`.
    var payload: String {
        "\(provider):\(generation):" + usage.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
