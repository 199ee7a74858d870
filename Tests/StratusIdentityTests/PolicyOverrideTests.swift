import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("policy.yaml overrides")
struct PolicyOverrideTests {
    @Test("a rule made admin-only refuses a member, who could before; other rules keep their defaults")
    func override() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).yaml").path
        try "# only admins create networks here\n\"create_network\": \"rule:admin_only\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await CloudFixture.withCloud(extraConfig: "[oslo_policy]\npolicy_file = \(file)") { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let refused = try await http.request("POST", "/network/v2.0/networks", token: demo, json: ["network": ["name": "n"]])
            #expect(refused.status == 403)
            #expect(refused.json["NeutronError"]?["message"] == "(rule:create_network) is disallowed by policy")
            let group = try await http.request("POST", "/network/v2.0/security-groups", token: demo, json: ["security_group": ["name": "g"]])
            #expect(group.status == 201)
            #expect(cloud.policy.overridden["create_network"] == 2)
        }
    }

    @Test("a policy file with an unknown rule or bad syntax stops the start, naming the line", arguments: [
        ("\"create_network\": \"rule:admin_only\"\n\"create_netwrk\": \"@\"\n", "line 2"),
        ("\"create_network\": \"role:admin or\"\n", "line 1"),
    ])
    func badFile(text: String, line: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).yaml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let error = await #expect(throws: ConfigError.self) {
            try await CloudFixture.withCloud(extraConfig: "[oslo_policy]\npolicy_file = \(file)") { _ in }
        }
        #expect(error?.message.contains(line) == true, "\(String(describing: error))")
    }
}
