import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The real CLI on networks, and servers booted onto them.
@Suite("The real openstack CLI: networks", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed"))
struct NetworkCLITests {
    @Test("network/subnet/port/security group commands as demo; server create --network, --nic v4-fixed-ip, --port; delete keeps the user's port")
    func networksAndServers() async throws {
        try await CloudFixture.withCloud(extraConfig: "[fake_driver]\nhost_count = 1\n") { cloud in
            let demo = ["--os-cloud", "stratus-demo"]
            func ok(_ arguments: [String]) async throws -> JSON { try json(try await runOpenStack(cloud, demo + arguments + ["-f", "json"])) }
            let networks = try await ok(["network", "list"])
            #expect(Set(networks.arrayValue?.compactMap { $0["Name"]?.stringValue } ?? []) == ["public", "private"])
            let network = try await ok(["network", "create", "web"])
            #expect(network["status"] == "ACTIVE")
            let subnet = try await ok(["subnet", "create", "--network", "web", "--subnet-range", "192.168.50.0/24",
                                       "--allocation-pool", "start=192.168.50.10,end=192.168.50.20", "--dns-nameserver", "10.0.0.53", "web-sub"])
            #expect(subnet["gateway_ip"] == "192.168.50.1")
            let port = try await ok(["port", "create", "--network", "web", "mine"])
            let portID = try #require(port["id"]?.stringValue)
            #expect(port["status"] == "DOWN")
            let fixed = try await ok(["port", "create", "--network", "web", "--fixed-ip", "subnet=web-sub,ip-address=192.168.50.200", "pinned"])
            #expect(fixed.encodedString().contains("192.168.50.200"))
            let shownPort = try await ok(["port", "show", "pinned"])
            #expect(shownPort["mac_address"]?.stringValue?.hasPrefix("fa:16:3e:") == true)
            let removed = try await runOpenStack(cloud, demo + ["port", "delete", "pinned"])
            #expect(removed.status == 0, "stderr: \(removed.stderr)")
            let rule = try await ok(["security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default"])
            #expect(rule["port_range_min"] == 22)
            let bad = try await runOpenStack(cloud, demo + ["subnet", "create", "--network", "web", "--subnet-range", "192.168.50.128/25", "overlap"])
            #expect(bad.status != 0)

            let one = try await ok(["server", "create", "--image", "test-image", "--flavor", "m1.nano", "--network", "web", "--wait", "s1"])
            #expect(one["status"] == "ACTIVE")
            #expect(one["addresses"]?["web"] == ["192.168.50.11"])  // .10 went to the port made above
            let webID = try #require(network["id"]?.stringValue)
            let two = try await ok(["server", "create", "--image", "test-image", "--flavor", "m1.nano",
                                    "--nic", "net-id=\(webID),v4-fixed-ip=192.168.50.99", "--wait", "s2"])
            #expect(two["addresses"]?.encodedString().contains("192.168.50.99") == true)
            let three = try await ok(["server", "create", "--image", "test-image", "--flavor", "m1.nano", "--port", portID, "--wait", "s3"])
            #expect(three["status"] == "ACTIVE")
            let onServer = try await ok(["port", "list", "--server", "s1"])
            #expect(onServer.arrayValue?.count == 1)
            #expect(onServer.arrayValue?.first?.encodedString().contains("192.168.50.11") == true)
            let deleted = try await runOpenStack(cloud, demo + ["server", "delete", "--wait", "s1", "s2", "s3"])
            #expect(deleted.status == 0, "stderr: \(deleted.stderr)")
            let ports = try await ok(["port", "list"])
            #expect(ports.arrayValue?.compactMap { $0["Name"]?.stringValue } == ["mine"])
        }
    }
}
