import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The real CLI on the compute features an operator reaches for after a first boot.
@Suite("The real openstack CLI: compute", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed"))
struct ComputeCLITests {
    func ok(_ result: ProcessRunner.Result) {
        #expect(result.status == 0, "stderr: \(result.stderr)")
    }

    @Test("server group create + a boot in it, quota show/set and an over-quota 403, NoValidHost fault in server show, key pairs, aggregates, zones, pause, console log")
    func computeWorkflow() async throws {
        try await withFakeHostCloud(hosts: 2) { cloud, http, token in
            let admin = ["--os-cloud", "stratus-admin"]
            func boot(_ name: String, flavor: String = "42", hints: JSON? = nil) async throws -> TestHTTP.Reply {
                var body: [String: JSON] = ["server": ["name": .string(name), "flavorRef": .string(flavor), "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]]
                if let hints { body["os:scheduler_hints"] = hints }
                return try await http.request("POST", "/compute/v2.1/servers", token: token, json: .object(body),
                                              headers: ["OpenStack-API-Version": "compute 2.90"])
            }

            let group = try json(try await runOpenStack(cloud, admin + ["server", "group", "create", "--policy", "anti-affinity", "web", "-f", "json"]))
            let groupID = try #require(group["id"]?.stringValue)
            #expect(group["policy"] == "anti-affinity" || group["policies"] == "anti-affinity")
            #expect(try await boot("g1", hints: ["group": .string(groupID)]).status == 202)
            #expect(try await boot("g2", hints: ["group": .string(groupID)]).status == 202)
            for _ in 0..<100 {
                let members = try json(try await runOpenStack(cloud, admin + ["server", "list", "-f", "json"]))
                if members.arrayValue?.allSatisfy({ $0["Status"] == "ACTIVE" }) == true, members.arrayValue?.count == 2 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let shownGroup = try json(try await runOpenStack(cloud, admin + ["server", "group", "show", "web", "-f", "json"]))
            let members = shownGroup["members"]?.arrayValue?.count ?? shownGroup["members"]?.stringValue?.split(separator: ",").count
            #expect(members == 2, "\(shownGroup.encodedString())")
            let hosts = try json(try await runOpenStack(cloud, admin + ["server", "list", "--long", "-f", "json"]))
            #expect(Set(hosts.arrayValue?.compactMap { $0["Host"]?.stringValue } ?? []).count == 2)

            // A third member has nowhere to go: ERROR, and server show carries the fault.
            #expect(try await boot("g3", hints: ["group": .string(groupID)]).status == 202)
            let fault = try await waitForServer(cloud, admin, "g3", status: "ERROR")["fault"] ?? .null
            #expect(fault["message"]?.stringValue?.hasPrefix("No valid host was found") == true)

            let quota = try json(try await runOpenStack(cloud, admin + ["quota", "show", "-f", "json"]))
            let rows = quota.arrayValue ?? []
            #expect(rows.contains { $0["Resource"] == "instances" && $0["Limit"] == 10 })
            ok(try await runOpenStack(cloud, admin + ["quota", "set", "--instances", "3", "admin"]))
            let over = try await boot("over")
            #expect(over.status == 403)
            #expect(over.json["forbidden"]?["message"]?.stringValue?.hasPrefix("Quota exceeded for instances") == true)
            let limits = try json(try await runOpenStack(cloud, admin + ["limits", "show", "--absolute", "-f", "json"]))
            // openstacksdk names the limits (maxTotalInstances → instances).
            #expect(limits.arrayValue?.contains { ($0["Name"] == "instances" || $0["Name"] == "maxTotalInstances") && $0["Value"] == 3 } == true,
                    "\(limits.encodedString())")

            let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmKqkXHqLFJqkiGoeMnBgNHvuj29dyHlvOBbXvtoQxm cli@stratus"
            let keyFile = NSTemporaryDirectory() + "stratus-cli-key-\(UUID().uuidString).pub"
            try key.write(toFile: keyFile, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: keyFile) }
            let keypair = try json(try await runOpenStack(cloud, admin + ["keypair", "create", "--public-key", keyFile, "mykey", "-f", "json"]))
            #expect(keypair["fingerprint"] == "0e:41:04:ba:65:2a:fe:fb:af:00:f1:fc:d6:58:a0:8f")
            let keys = try json(try await runOpenStack(cloud, admin + ["keypair", "list", "-f", "json"]))
            #expect(keys.arrayValue?.first?["Name"] == "mykey")

            let aggregate = try json(try await runOpenStack(cloud, admin + ["aggregate", "create", "--zone", "az1", "rack1", "-f", "json"]))
            #expect(aggregate["availability_zone"] == "az1")
            ok(try await runOpenStack(cloud, admin + ["aggregate", "add", "host", "rack1", "fake-1"]))
            let zones = try json(try await runOpenStack(cloud, admin + ["availability", "zone", "list", "--compute", "-f", "json"]))
            #expect(zones.arrayValue?.contains { $0["Zone Name"] == "az1" } == true)

            ok(try await runOpenStack(cloud, admin + ["server", "pause", "g1"]))
            #expect(try await waitForServer(cloud, admin, "g1", status: "PAUSED")["status"] == "PAUSED")
            let console = try await runOpenStack(cloud, admin + ["console", "log", "show", "--lines", "1", "g2"])
            #expect(console.status == 0, "stderr: \(console.stderr)")
            #expect(console.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "login:")
            ok(try await runOpenStack(cloud, admin + ["compute", "service", "set", "--disable", "--disable-reason", "maint", "fake-2", "nova-compute"]))
            let services = try json(try await runOpenStack(cloud, admin + ["compute", "service", "list", "-f", "json"]))
            #expect(services.arrayValue?.first { $0["Host"] == "fake-2" }?["Status"] == "disabled")
        }
    }
}
