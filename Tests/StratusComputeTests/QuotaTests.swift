import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Quotas and limits")
struct QuotaTests {
    /// A cloud with Nova's default quotas (the usual fixture lifts them).
    func withQuotaCloud(_ body: @Sendable (ComputeClient, ReadyCloud) async throws -> Void) async throws {
        try await withComputeCloud(hosts: 2, extra: "[quota]\ninstances = 10\ncores = 20\nram = 51200\n", body)
    }

    @Test("defaults shown; min/max_count shrinks to fit; over quota is Nova's 403; limits and detail count usage")
    func enforceAtCreate() async throws {
        try await withQuotaCloud { client, cloud in
            let project = try #require(try await client.http.projectID(token: client.token))
            let shown = try await client.call("GET", "/os-quota-sets/\(project)")
            #expect(shown.json["quota_set"]?["instances"] == 10)
            #expect(shown.json["quota_set"]?["cores"] == 20)
            #expect(shown.json["quota_set"]?["injected_files"] == nil)  // gone at 2.57
            let legacy = try await client.http.request("GET", "/compute/v2.1/os-quota-sets/\(project)", token: client.token,
                                                       headers: ["OpenStack-API-Version": "compute 2.1"])
            #expect(legacy.json["quota_set"]?["floating_ips"] == 10)

            let set = try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["instances": 3]])
            #expect(set.status == 200)
            #expect(set.json["quota_set"]?["instances"] == 3)
            // min 1, max 5 with room for 3: Nova creates 3.
            let reply = try await client.call("POST", "/servers", json: ["server": [
                "name": "q", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "min_count": 1, "max_count": 5]])
            #expect(reply.status == 202)
            let listed = try await client.call("GET", "/servers").json["servers"]?.arrayValue ?? []
            #expect(listed.count == 3)
            let over = try await client.call("POST", "/servers", json: ["server": [
                "name": "q4", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]])
            #expect(over.status == 403)
            #expect(over.json["forbidden"]?["message"]?.stringValue == "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances")

            let limits = try await client.call("GET", "/limits").json["limits"]?["absolute"]
            #expect(limits?["maxTotalInstances"] == 3)
            #expect(limits?["totalInstancesUsed"] == 3)
            #expect(limits?["totalRAMUsed"] == 384)
            let detail = try await client.call("GET", "/os-quota-sets/\(project)/detail").json["quota_set"]
            #expect(detail?["instances"]?["in_use"] == 3)
            #expect(detail?["cores"]?["limit"] == 20)
            // Below usage needs force; reset goes back to the defaults.
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["instances": 1]]).status == 400)
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["instances": 1, "force": true]]).status == 200)
            #expect(try await client.call("DELETE", "/os-quota-sets/\(project)").status == 202)
            #expect(try await client.call("GET", "/os-quota-sets/\(project)").json["quota_set"]?["instances"] == 10)
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["bogus": 1]]).status == 400)
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["instances": -2]]).status == 400)

            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let demoProject = try #require(try await client.http.projectID(token: demo))
            #expect(try await client.http.request("GET", "/compute/v2.1/os-quota-sets/\(demoProject)", token: demo).status == 200)
            #expect(try await client.http.request("GET", "/compute/v2.1/os-quota-sets/\(project)", token: demo).status == 403)
            #expect(try await client.http.request("PUT", "/compute/v2.1/os-quota-sets/\(demoProject)", token: demo,
                                                  json: ["quota_set": ["instances": 100]]).status == 403)
        }
    }

    @Test("20 concurrent creates against an instances quota of 5: exactly 5 accepted, 15 refused with 403")
    func concurrentQuota() async throws {
        try await withQuotaCloud { client, _ in
            let project = try #require(try await client.http.projectID(token: client.token))
            _ = try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["instances": 5]])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try await client.call("POST", "/servers", json: ["server": [
                            "name": .string("c\(i)"), "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]]).status
                    }
                }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(statuses == [202: 5, 403: 15])
            #expect(try await client.call("GET", "/servers").json["servers"]?.arrayValue?.count == 5)
        }
    }

    @Test("cores and ram are counted from the flavor")
    func coresAndRAM() async throws {
        try await withQuotaCloud { client, _ in
            let project = try #require(try await client.http.projectID(token: client.token))
            _ = try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["cores": 2, "ram": 100000]])
            let big = try await client.call("POST", "/flavors", json: ["flavor": ["name": "wide", "ram": 64, "vcpus": 2, "disk": 0]])
            let flavor = try #require(big.json["flavor"]?["id"]?.stringValue)
            _ = try await client.create("w1", flavor: flavor)
            let over = try await client.call("POST", "/servers", json: ["server": [
                "name": "w2", "flavorRef": .string(flavor), "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]])
            #expect(over.status == 403)
            #expect(over.json["forbidden"]?["message"]?.stringValue?.hasPrefix("Quota exceeded for cores") == true)
        }
    }

    @Test("resizes count while under way: two at once that fit only one by one get one 202 and one 403; a revert frees it")
    func concurrentUpsizes() async throws {
        try await withQuotaCloud { client, _ in
            let project = try #require(try await client.http.projectID(token: client.token))
            let a = try await client.create("grow-a"), b = try await client.create("grow-b")
            #expect(try await client.settle(a)["status"] == "ACTIVE")
            #expect(try await client.settle(b)["status"] == "ACTIVE")
            // Two of three cores used; the new flavor takes two, so one server may grow by one core, not both.
            let duo = try await client.call("POST", "/flavors", json: ["flavor": ["name": "duo", "ram": 128, "vcpus": 2, "disk": 1]])
            let flavor = try #require(duo.json["flavor"]?["id"]?.stringValue)
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["cores": 3]]).status == 200)
            let resize: JSON = ["resize": ["flavorRef": .string(flavor)]]
            let replies = try await withThrowingTaskGroup(of: (String, TestHTTP.Reply).self) { group in
                for id in [a, b] { group.addTask { (id, try await client.call("POST", "/servers/\(id)/action", json: resize)) } }
                return try await group.reduce(into: [String: TestHTTP.Reply]()) { $0[$1.0] = $1.1 }
            }
            #expect(replies.values.map(\.status).sorted() == [202, 403])
            let refused = try #require(replies.first { $0.value.status == 403 })
            #expect(refused.value.json["forbidden"]?["message"]?.stringValue?.hasPrefix("Quota exceeded for cores") == true)
            let grown = try #require(replies.first { $0.value.status == 202 }?.key)
            // Still counted while it waits to be confirmed, then given back by the revert.
            #expect(try await client.settle(grown)["status"] == "VERIFY_RESIZE")
            #expect(try await client.call("POST", "/servers/\(refused.key)/action", json: resize).status == 403)
            #expect(try await client.call("POST", "/servers/\(grown)/action", json: ["revertResize": nil]).status == 202)
            #expect(try await client.settle(grown)["status"] == "ACTIVE")
            #expect(try await client.call("POST", "/servers/\(refused.key)/action", json: resize).status == 202)
            #expect(try await client.settle(refused.key)["status"] == "VERIFY_RESIZE")
        }
    }
}
