import Testing

/// Polls `condition` every 50 ms for up to `seconds`; a timeout fails the test.
public func expectEventually(seconds: Int = 30, _ condition: () async throws -> Bool,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for _ in 0..<(seconds * 20) {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("condition not met within \(seconds) s", sourceLocation: sourceLocation)
}
