import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The real CLI against a cloud that boots real guests: what a DevStack user types first.
@Suite("The real openstack CLI: QEMU guests",
       .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed"),
       .enabled(if: QEMUFixture.available || QEMUFixture.required, "QEMU or the tiny guest is missing"))
struct QEMUCLITests {
    /// `openstack console log show` until it shows `marker` `times` times (the guest boots under TCG: seconds).
    func waitForConsole(_ cloud: ReadyCloud, _ name: String, _ marker: String, times: Int) async throws -> String {
        var output = ""
        for _ in 0..<120 {
            output = try await runOpenStack(cloud, ["--os-cloud", "stratus-demo", "console", "log", "show", name]).stdout
            if output.components(separatedBy: marker).count - 1 >= times { return output }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("the console of \(name) never showed \(marker) \(times)×:\n\(output)")
        return output
    }

    @Test("server create --image stratus-tiny --wait, console log show (--lines), reboot --wait, delete --wait")
    func realGuest() async throws {
        try await CloudFixture.withCloud(extraConfig: QEMUFixture.config()) { cloud in
            let demo = ["--os-cloud", "stratus-demo"]
            let images = try json(try await runOpenStack(cloud, demo + ["image", "list", "-f", "json"]))
            #expect(images.arrayValue?.contains { $0["Name"] == "stratus-tiny" } == true)
            let created = try json(try await runOpenStack(cloud, demo + [
                "server", "create", "--image", "stratus-tiny", "--flavor", "m1.nano", "--network", "private", "--wait", "tiny", "-f", "json"]))
            #expect(created["status"] == "ACTIVE")
            let console = try await waitForConsole(cloud, "tiny", "\(TinyGuest.marker) hostname=tiny", times: 1)
            #expect(console.contains(TinyGuest.marker))
            let last = try await runOpenStack(cloud, demo + ["console", "log", "show", "--lines", "2", "tiny"])
            #expect(last.stdout.split(whereSeparator: \.isNewline).count == 2)

            // (stop and start of real guests: the API lifecycle test; of servers through the CLI: the fake-host CLI tests.)
            #expect(try await runOpenStack(cloud, demo + ["server", "reboot", "--wait", "tiny"]).status == 0)
            _ = try await waitForConsole(cloud, "tiny", TinyGuest.marker, times: 2)
            let deleted = try await runOpenStack(cloud, demo + ["server", "delete", "--wait", "tiny"])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect((await cloud.qemuDriver?.listGuests())?.isEmpty == true)
        }
    }
}
