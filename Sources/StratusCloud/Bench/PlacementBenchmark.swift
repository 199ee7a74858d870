import Foundation
import Logging
import StratusAPI
import StratusCore
import StratusPlacement
import StratusStorage

/// `stratus bench placement`: allocation-candidate latency (over HTTP, with and without `limit`), claims/s at
/// several client counts, the 20-claims-for-5 race, and memory, at each provider count.
public struct PlacementBenchmark: Sendable {
    public var providerCounts: [Int]
    public var clientCounts: [Int]
    public var queries: Int
    public var claimsPerCase: Int
    public var databaseURL: String?

    public init(providerCounts: [Int], clientCounts: [Int], queries: Int = 200, claimsPerCase: Int = 2000, databaseURL: String? = nil) {
        self.providerCounts = providerCounts
        self.clientCounts = clientCounts
        self.queries = queries
        self.claimsPerCase = claimsPerCase
        self.databaseURL = databaseURL
    }

    public func run(logger: Logger) async throws -> JSON {
        var cases: [JSON] = []
        for count in providerCounts {
            cases.append(try await runCase(providers: count, logger: logger))
        }
        return ["benchmark": "placement", "engine": .string(databaseURL == nil ? "sqlite" : "postgresql"),
                "cases": .array(cases), "machine": MachineInfo.json()]
    }

    func runCase(providers count: Int, logger: Logger) async throws -> JSON {
        return try await BenchCloud.run("placement-\(count)", databaseURL: databaseURL, logLevel: .warning, logger: logger) { cloud in
            try await measure(cloud, providers: count)
        }
    }

    func measure(_ cloud: ReadyCloud, providers count: Int) async throws -> JSON {
        let store = cloud.placement
        let loadStart = ContinuousClock.now
        var batch: [(uuid: String, name: String, inventories: [String: Inventory])] = []
        var uuids: [String] = []
        for i in 0..<count {
            let uuid = Identifier.uuid()
            uuids.append(uuid)
            batch.append((uuid, "bench-\(count)-cn-\(i)", [
                "VCPU": Inventory(total: 64, allocationRatio: 4.0), "MEMORY_MB": Inventory(total: 262_144),
                "DISK_GB": Inventory(total: 4000),
            ]))
        }
        try await store.bulkCreate(batch)
        let loadSeconds = (ContinuousClock.now - loadStart).inSeconds
        let rssAfterLoad = Self.rssMiB()

        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        let http = try await BenchConnection.connect(host: "127.0.0.1", port: port)
        let path = "/placement/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:1"
        let full = try await latencies(http, path, count: max(10, min(queries, count >= 100_000 ? 30 : queries)))
        let limited = try await latencies(http, path + "&limit=10", count: queries)
        await http.close()
        let inProcess = inProcessLatencies(store, limit: nil, count: max(10, min(queries, count >= 100_000 ? 30 : queries)))

        let providerUUIDs = uuids
        let headers = [("X-Auth-Token", "admin"), ("OpenStack-API-Version", "placement latest"),
                       ("Content-Type", "application/json")]
        var claims: [JSON] = []
        for clients in clientCounts {
            let perClient = max(1, claimsPerCase / clients)
            var connections: [BenchConnection] = []
            for _ in 0..<clients { connections.append(try await BenchConnection.connect(host: "127.0.0.1", port: port)) }
            let start = ContinuousClock.now
            let failures = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in connections {
                    group.addTask {
                        for _ in 0..<perClient {
                            let provider = providerUUIDs.randomElement()!
                            let body: JSON = [
                                "allocations": [provider: ["resources": ["VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1]]],
                                "project_id": "bench", "user_id": "bench", "consumer_generation": nil, "consumer_type": "INSTANCE",
                            ]
                            let reply = try await connection.request(
                                .PUT, "/placement/allocations/\(Identifier.uuid())", headers: headers, body: body.encodedBytes())
                            if reply.status != 204 { failures.add(1) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for connection in connections { await connection.close() }
            let elapsed = (ContinuousClock.now - start).inSeconds
            claims.append(["clients": .int(clients), "claims": .int(perClient * clients),
                           "claims_per_second": .number((Double(perClient * clients) / elapsed).rounded()),
                           "failed": .int(failures.value)])
        }

        var inProcessClaims: [JSON] = []
        for clients in clientCounts {
            let perClient = max(1, claimsPerCase / clients)
            let start = ContinuousClock.now
            let failures = Counter()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        for _ in 0..<perClient {
                            let claim = ConsumerAllocations(
                                consumerUUID: Identifier.uuid(),
                                allocations: [ProviderAllocation(providerUUID: providerUUIDs.randomElement()!,
                                                                 resources: ["VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1])],
                                projectID: "bench", userID: "bench", consumerType: "INSTANCE", expectedGeneration: .newConsumer)
                            do { try await store.replaceAllocations([claim]) } catch { failures.add(1) }
                        }
                    }
                }
            }
            let elapsed = (ContinuousClock.now - start).inSeconds
            inProcessClaims.append(["clients": .int(clients), "claims": .int(perClient * clients),
                                    "claims_per_second": .number((Double(perClient * clients) / elapsed).rounded()),
                                    "failed": .int(failures.value)])
        }

        let race = try await raceResult(store)
        return [
            "providers": .int(count), "load_seconds": .number(round(loadSeconds * 100) / 100),
            "candidates_http_ms": full, "candidates_limit10_http_ms": limited, "candidates_in_process_ms": inProcess,
            "claims_http": .array(claims), "claims_in_process": .array(inProcessClaims), "race_20_claims_room_for_5": race,
            "rss_mib_after_load": .int(rssAfterLoad), "rss_mib_end": .int(Self.rssMiB()),
        ]
    }

    func latencies(_ http: BenchConnection, _ path: String, count: Int) async throws -> JSON {
        let headers = [("X-Auth-Token", "admin"), ("OpenStack-API-Version", "placement latest")]
        _ = try await http.request(.GET, path, headers: headers)  // warm up
        var samples: [Double] = []
        var bytes = 0
        for _ in 0..<count {
            // Timed: request out, whole response in. Parsing it is the client's business.
            let start = ContinuousClock.now
            let reply = try await http.request(.GET, path, headers: headers)
            samples.append((ContinuousClock.now - start).inMilliseconds)
            bytes = reply.bytes
        }
        return Self.summary(samples, extra: ["response_bytes": .int(bytes)])
    }

    func inProcessLatencies(_ store: PlacementStore, limit: Int?, count: Int) -> JSON {
        var query = CandidateQuery()
        var group = RequestGroup(suffix: "")
        group.resources = ["VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1]
        query.groups = [group]
        query.limit = limit
        var samples: [Double] = []
        var rendering: [Double] = []
        let api = PlacementAPI(store: store, bodyLimit: 1 << 20, randomizeCandidates: false, baseURL: { "" })
        for _ in 0..<count {
            let start = ContinuousClock.now
            let state = store.index.current()
            let result = CandidateSearch(state: state, query: query).run()
            let searched = ContinuousClock.now
            _ = api.renderBytes(result, query, PlacementAPI.maximum, state: state)
            samples.append((searched - start).inMilliseconds)
            rendering.append((ContinuousClock.now - searched).inMilliseconds)
        }
        return ["search": Self.summary(samples, extra: [:]), "render_and_encode": Self.summary(rendering, extra: [:])]
    }

    func raceResult(_ store: PlacementStore) async throws -> JSON {
        let uuid = Identifier.uuid()
        _ = try await store.createProvider(uuid: uuid, name: "race-\(uuid)", parentUUID: nil)
        _ = try await store.setInventories(uuid: uuid, generation: 0, ["VCPU": Inventory(total: 5)], reservedMayEqualTotal: true)
        let wins = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    (try? await store.replaceAllocations([ConsumerAllocations(
                        consumerUUID: Identifier.uuid(), allocations: [ProviderAllocation(providerUUID: uuid, resources: ["VCPU": 1])],
                        projectID: "p", userID: "u", expectedGeneration: .newConsumer)])) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        return ["succeeded": .int(wins), "room": 5, "attempts": 20]
    }

    static func summary(_ samples: [Double], extra: [String: JSON]) -> JSON {
        let sorted = samples.sorted()
        var result: [String: JSON] = ["median": .number(Percentile.of(sorted, 0.5)), "p99": .number(Percentile.of(sorted, 0.99)),
                                      "samples": .int(sorted.count)]
        result.merge(extra) { $1 }
        return .object(result)
    }

    static func rssMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        return kb / 1024
    }
}

