import Foundation
import StratusCloud
import StratusComputeAgent
import StratusTesting
import Testing

@Suite("Choosing the compute driver")
struct ComputeDriverChoiceTests {
    @Test("auto without QEMU falls back to fake hosts; qemu without QEMU refuses to start, naming the binary")
    func choice() async throws {
        let missing = "[qemu]\nbinary = /nonexistent/qemu-system-x86_64\n[fake_driver]\nhost_count = 1\n"
        try await CloudFixture.withCloud(extraConfig: "[DEFAULT]\ncompute_driver = auto\n" + missing) { cloud in
            #expect(cloud.qemuDriver == nil)
            #expect(cloud.fakeDrivers.keys.sorted() == ["fake-1"])
        }
        await #expect {
            try await CloudFixture.withCloud(extraConfig: "[DEFAULT]\ncompute_driver = qemu\n" + missing) { _ in }
        } throws: { error in
            "\(error)".contains("/nonexistent/qemu-system-x86_64 is not installed")
        }
    }

    @Test("a fake cloud stays fake even where QEMU is installed")
    func fakeStaysFake() async throws {
        try await CloudFixture.withCloud(extraConfig: "[DEFAULT]\ncompute_driver = fake\n[fake_driver]\nhost_count = 2\n") { cloud in
            #expect(cloud.qemuDriver == nil)
            #expect(cloud.computeHosts.sorted() == ["fake-1", "fake-2"])
        }
    }
}
