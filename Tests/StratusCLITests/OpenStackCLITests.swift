import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Runs the real `openstack` CLI with the cloud's clouds.yaml.
func runOpenStack(_ cloud: ReadyCloud, _ arguments: [String]) async throws -> ProcessRunner.Result {
    try await ProcessRunner.run(ProcessRunner.openstackCLI!, arguments, environment: ["OS_CLIENT_CONFIG_FILE": cloud.cloudsFile])
}

/// The CLI's `-f json` output, after checking it succeeded.
func json(_ result: ProcessRunner.Result) throws -> JSON {
    #expect(result.status == 0, "stderr: \(result.stderr)")
    return try JSON.parse(result.stdout)
}

/// `openstack server show NAME` until its status is `status` (about 10 s at most); the last shown server.
@discardableResult
func waitForServer(_ cloud: ReadyCloud, _ arguments: [String], _ name: String, status: String) async throws -> JSON {
    var shown = JSON.null
    for _ in 0..<100 {
        shown = try json(try await runOpenStack(cloud, arguments + ["server", "show", name, "-f", "json"]))
        if shown["status"]?.stringValue == status { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    return shown
}

/// A cloud with `hosts` fake hosts (1 GiB each), an admin token, and every host registered before `body` runs.
func withFakeHostCloud<T: Sendable>(hosts: Int, _ body: @Sendable (ReadyCloud, TestHTTP, String) async throws -> T) async throws -> T {
    try await CloudFixture.withCloud(extraConfig: "[fake_driver]\nhost_count = \(hosts)\nmemory_mb = 1024\n") { cloud in
        let http = TestHTTP(baseURL: cloud.baseURL)
        let token = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
        func registered() async throws -> Int {
            try await http.request("GET", "/compute/v2.1/os-services", token: token).json["services"]?.arrayValue?.count ?? 0
        }
        for _ in 0..<200 where try await registered() != hosts { try await Task.sleep(for: .milliseconds(50)) }
        try #require(try await registered() == hosts, "the fake hosts did not all register within 10 s")
        return try await body(cloud, http, token)
    }
}

/// The real python-openstackclient against an in-process Stratus.
@Suite("The real openstack CLI", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed; scripts/test installs it"))
struct OpenStackCLITests {
    func openstack(_ cloud: ReadyCloud, _ arguments: [String]) async throws -> ProcessRunner.Result {
        try await runOpenStack(cloud, arguments)
    }

    @Test("token issue, catalog list, project list, user create, role add, and the new user logs in")
    func identityWorkflow() async throws {
        try await CloudFixture.withCloud { cloud in
            let token = try json(try await openstack(cloud, ["--os-cloud", "stratus-admin", "token", "issue", "-f", "json"]))
            #expect(token["id"]?.stringValue?.hasPrefix("s1") == true)
            #expect(token["project_id"]?.stringValue?.count == 32)

            let catalog = try json(try await openstack(cloud, ["--os-cloud", "stratus-admin", "catalog", "list", "-f", "json"]))
            #expect(catalog.arrayValue?.contains { $0["Type"] == "identity" && $0["Name"] == "keystone" } == true)

            let projects = try json(try await openstack(cloud, ["--os-cloud", "stratus-admin", "project", "list", "-f", "json"]))
            let names = Set(projects.arrayValue?.compactMap { $0["Name"]?.stringValue } ?? [])
            #expect(names == ["admin", "demo", "service"])

            let user = try json(try await openstack(
                cloud, ["--os-cloud", "stratus-admin", "user", "create", "--password", "pw-erin", "--project", "demo", "erin", "-f", "json"]))
            #expect(user["name"] == "erin")
            let added = try await openstack(cloud, ["--os-cloud", "stratus-admin", "role", "add", "--user", "erin", "--project", "demo", "member"])
            #expect(added.status == 0, "stderr: \(added.stderr)")

            let assignments = try json(try await openstack(
                cloud, ["--os-cloud", "stratus-admin", "role", "assignment", "list", "--user", "erin", "--names", "-f", "json"]))
            #expect(assignments.arrayValue?.first?["Role"] == "member")
            #expect(assignments.arrayValue?.first?["Project"] == "demo@Default")

            let erin = try json(try await openstack(cloud, [
                "--os-cloud", "stratus-demo", "--os-username", "erin", "--os-password", "pw-erin", "token", "issue", "-f", "json",
            ]))
            #expect(erin["user_id"] == user["id"])
        }
    }

    @Test("a wrong password: clear 401 and a non-zero exit code")
    func wrongPassword() async throws {
        try await CloudFixture.withCloud { cloud in
            let result = try await openstack(cloud, ["--os-cloud", "stratus-admin", "--os-password", "wrong", "token", "issue"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("HTTP 401"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("requires authentication"))
        }
    }

    @Test("a member is refused administration with 403")
    func memberForbidden() async throws {
        try await CloudFixture.withCloud { cloud in
            let result = try await openstack(cloud, ["--os-cloud", "stratus-demo", "user", "create", "mallory"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("403"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("identity:create_user"), "stderr: \(result.stderr)")
        }
    }
}

/// osc-placement against an in-process Stratus.
@Suite("The real openstack CLI with osc-placement", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed; scripts/test installs it"))
struct PlacementCLITests {
    func openstack(_ cloud: ReadyCloud, _ arguments: [String]) async throws -> ProcessRunner.Result {
        try await runOpenStack(cloud, ["--os-cloud", "stratus-admin"] + arguments)
    }

    @Test("resource provider create/list/show, inventory set/list, trait set, allocation candidate list")
    func placementWorkflow() async throws {
        try await CloudFixture.withCloud { cloud in
            let created = try json(try await openstack(cloud, ["resource", "provider", "create", "cn1", "-f", "json"]))
            let uuid = try #require(created["uuid"]?.stringValue)
            let listed = try json(try await openstack(cloud, ["resource", "provider", "list", "-f", "json"]))
            #expect(listed.arrayValue?.map { $0["name"] } == ["cn1"])
            let shown = try json(try await openstack(cloud, ["resource", "provider", "show", uuid, "-f", "json"]))
            #expect(shown["name"] == "cn1")
            let set = try await openstack(cloud, [
                "resource", "provider", "inventory", "set", uuid, "--resource", "VCPU=8", "--resource", "MEMORY_MB=4096",
                "--resource", "VCPU:allocation_ratio=2.0",
            ])
            #expect(set.status == 0, "stderr: \(set.stderr)")
            let inventory = try json(try await openstack(cloud, ["resource", "provider", "inventory", "list", uuid, "-f", "json"]))
            let vcpu = inventory.arrayValue?.first { $0["resource_class"] == "VCPU" }
            #expect(vcpu?["total"] == 8)
            #expect(vcpu?["allocation_ratio"] == 2.0)
            let traits = try await openstack(cloud, ["resource", "provider", "trait", "set", uuid, "--trait", "HW_CPU_X86_AVX2"])
            #expect(traits.status == 0, "stderr: \(traits.stderr)")
            let candidates = try json(try await openstack(cloud, [
                "allocation", "candidate", "list", "--resource", "VCPU=1", "--required", "HW_CPU_X86_AVX2", "-f", "json",
            ]))
            #expect(candidates.arrayValue?.count == 1)
            #expect(candidates.arrayValue?.first?["resource provider"]?.stringValue == uuid)
            let none = try json(try await openstack(cloud, ["allocation", "candidate", "list", "--resource", "VCPU=17", "-f", "json"]))
            #expect(none.arrayValue?.isEmpty == true)
            let bad = try await openstack(cloud, ["resource", "provider", "inventory", "set", uuid, "--resource", "CUSTOM_NOPE=1"])
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("400") || bad.stderr.contains("No such resource class"), "stderr: \(bad.stderr)")
        }
    }
}

/// The compute part of the CLI that exists so far.
@Suite("The real openstack CLI: flavors", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed; scripts/test installs it"))
struct FlavorCLITests {
    @Test("flavor create/list/show/set/delete, and a member is refused")
    func flavors() async throws {
        try await CloudFixture.withCloud { cloud in
            let admin = ["--os-cloud", "stratus-admin"]
            let created = try json(try await runOpenStack(cloud, admin + [
                "flavor", "create", "--ram", "256", "--disk", "1", "--vcpus", "2", "--property", "hw:cpu_policy=shared", "c1.test", "-f", "json"]))
            #expect(created["ram"] == 256)
            let listed = try json(try await runOpenStack(cloud, admin + ["flavor", "list", "-f", "json"]))
            #expect(listed.arrayValue?.contains { $0["Name"] == "c1.test" } == true)
            #expect(listed.arrayValue?.contains { $0["Name"] == "m1.tiny" } == true)
            let set = try await runOpenStack(cloud, admin + ["flavor", "set", "--property", "quota:cpu_shares=100", "c1.test"])
            #expect(set.status == 0, "stderr: \(set.stderr)")
            let shown = try json(try await runOpenStack(cloud, admin + ["flavor", "show", "c1.test", "-f", "json"]))
            #expect(shown["properties"]?["quota:cpu_shares"] == "100")
            let denied = try await runOpenStack(cloud, ["--os-cloud", "stratus-demo", "flavor", "create", "--ram", "1", "--disk", "1", "--vcpus", "1", "nope"])
            #expect(denied.status != 0)
            #expect(denied.stderr.contains("403"), "stderr: \(denied.stderr)")
            let deleted = try await runOpenStack(cloud, admin + ["flavor", "delete", "c1.test"])
            #expect(deleted.status == 0, "stderr: \(deleted.stderr)")
        }
    }
}

/// Server commands that need no image service (servers are created over the API until Glance lands).
@Suite("The real openstack CLI: servers on fake hosts", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed; scripts/test installs it"))
struct ServerCLITests {
    @Test("server list/show/stop/start/reboot/event list/delete, compute service list, hypervisor list")
    func servers() async throws {
        try await CloudFixture.withCloud(extraConfig: "[fake_driver]\nhost_count = 2") { cloud in
            let admin = ["--os-cloud", "stratus-admin"]
            let http = TestHTTP(baseURL: cloud.baseURL)
            let token = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            // Wait for both hosts, then boot one server through the API.
            for _ in 0..<200 {
                let services = try await http.request("GET", "/compute/v2.1/os-services", token: token)
                if services.json["services"]?.arrayValue?.count == 2 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let created = try await http.request("POST", "/compute/v2.1/servers", token: token, json: [
                "server": ["name": "cli-vm", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]])
            #expect(created.status == 202)

            let services = try json(try await runOpenStack(cloud, admin + ["compute", "service", "list", "-f", "json"]))
            #expect(services.arrayValue?.count == 2)
            #expect(services.arrayValue?.allSatisfy { $0["State"] == "up" } == true)
            let hypervisors = try json(try await runOpenStack(cloud, admin + ["hypervisor", "list", "-f", "json"]))
            #expect(hypervisors.arrayValue?.count == 2)

            try await waitForServer(cloud, admin, "cli-vm", status: "ACTIVE")
            let list = try json(try await runOpenStack(cloud, admin + ["server", "list", "-f", "json"]))
            #expect(list.arrayValue?.first?["Status"] == "ACTIVE")
            let stop = try await runOpenStack(cloud, admin + ["server", "stop", "cli-vm"])
            #expect(stop.status == 0, "stderr: \(stop.stderr)")
            #expect(try await waitForServer(cloud, admin, "cli-vm", status: "SHUTOFF")["status"] == "SHUTOFF")
            let start = try await runOpenStack(cloud, admin + ["server", "start", "cli-vm"])
            #expect(start.status == 0, "stderr: \(start.stderr)")
            let reboot = try await runOpenStack(cloud, admin + ["server", "reboot", "--hard", "--wait", "cli-vm"])
            #expect(reboot.status == 0, "stderr: \(reboot.stderr)")
            let events = try json(try await runOpenStack(cloud, admin + ["server", "event", "list", "cli-vm", "-f", "json"]))
            #expect(Set(events.arrayValue?.compactMap { $0["Action"]?.stringValue } ?? []) == ["create", "stop", "start", "reboot"])
            let deleted = try await runOpenStack(cloud, admin + ["server", "delete", "--wait", "cli-vm"])
            #expect(deleted.status == 0, "stderr: \(deleted.stderr)")
            let after = try json(try await runOpenStack(cloud, admin + ["server", "list", "-f", "json"]))
            #expect(after.arrayValue?.isEmpty == true)
        }
    }
}
