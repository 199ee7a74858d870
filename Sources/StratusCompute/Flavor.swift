/// A Nova flavor: the size of a server.
public struct Flavor: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var memoryMB: Int
    public var vcpus: Int
    public var rootGB: Int
    public var ephemeralGB: Int = 0
    public var swapMB: Int = 0
    public var rxtxFactor: Double = 1.0
    public var isPublic: Bool = true
    public var disabled: Bool = false
    public var description: String?
    public var extraSpecs: [String: String] = [:]

    public init(id: String, name: String, memoryMB: Int, vcpus: Int, rootGB: Int) {
        self.id = id
        self.name = name
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.rootGB = rootGB
    }

    /// DevStack's default flavors, created by `stratus up` on first start.
    public static let defaults: [Flavor] = [
        Flavor(id: "1", name: "m1.tiny", memoryMB: 512, vcpus: 1, rootGB: 1),
        Flavor(id: "2", name: "m1.small", memoryMB: 2048, vcpus: 1, rootGB: 20),
        Flavor(id: "3", name: "m1.medium", memoryMB: 4096, vcpus: 2, rootGB: 40),
        Flavor(id: "4", name: "m1.large", memoryMB: 8192, vcpus: 4, rootGB: 80),
        Flavor(id: "5", name: "m1.xlarge", memoryMB: 16384, vcpus: 8, rootGB: 160),
        Flavor(id: "42", name: "m1.nano", memoryMB: 128, vcpus: 1, rootGB: 1),
        Flavor(id: "84", name: "m1.micro", memoryMB: 192, vcpus: 1, rootGB: 1),
    ]
}
