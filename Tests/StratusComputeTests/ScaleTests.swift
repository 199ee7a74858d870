import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Boots at scale")
struct ScaleTests {
    @Test("1,000 concurrent boots into room for 500: exactly 500 ACTIVE, 500 NoValidHost, no compute failure, usage = allocations")
    func thousandBoots() async throws {
        // 10 hosts × 6,400 MB; m1.nano takes 128 MB: room for exactly 500.
        let extra = "[fake_driver]\nvcpus = 16\nmemory_mb = 6400\nlocal_gb = 100\n[filter_scheduler]\nhost_subset_size = 3\n"
        try await withComputeCloud(hosts: 10, extra: extra) { client, cloud in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<1000 { group.addTask { try await client.create("scale\(i)") } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 1000)
            var servers: [JSON] = []
            for _ in 0..<600 {
                servers = try await client.call("GET", "/servers/detail?limit=1000").json["servers"]?.arrayValue ?? []
                if servers.count == 1000, servers.allSatisfy({ $0["status"] != "BUILD" }) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            var statuses: [String: Int] = [:]
            for server in servers { statuses[server["status"]?.stringValue ?? "?", default: 0] += 1 }
            #expect(statuses == ["ACTIVE": 500, "ERROR": 500])
            let faults = Set(servers.filter { $0["status"] == "ERROR" }.compactMap { $0["fault"]?["message"]?.stringValue })
            #expect(faults == ["No valid host was found. "])

            // Zero failures on the compute side: no spawn ever failed or was rescheduled.
            for server in servers.filter({ $0["status"] == "ACTIVE" }).prefix(50) {
                let id = server["id"]?.stringValue ?? ""
                let action = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue?.first
                let events = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(action?["request_id"]?.stringValue ?? "")")
                    .json["instanceAction"]?["events"]?.arrayValue ?? []
                #expect(events.allSatisfy { $0["result"] == "Success" })
            }
            let drivers = cloud.fakeDrivers.values.reduce(0) { $0 + $1.running.count }
            #expect(drivers == 500)

            // Placement's usages (from the database) equal the sum of allocations, host by host.
            var perHost: [String: Int] = [:]
            for server in servers where server["status"] == "ACTIVE" { perHost[server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "", default: 0] += 1 }
            for provider in cloud.placement.index.current().providers.values {
                let usages = try await client.http.request("GET", "/placement/resource_providers/\(provider.provider.uuid)/usages", token: client.token)
                let memory = usages.json["usages"]?["MEMORY_MB"]?.intValue ?? -1
                #expect(memory == 128 * (perHost[provider.provider.name] ?? 0))
                #expect(memory <= 6400)
            }
        }
    }
}
