@testable import StratusComputeAgent
import Testing

@Suite("Asks of outgoing live migrations")
struct OutgoingMigrationsTests {
    @Test("an abort that arrives before its copy is in hand (an agent restarted mid-copy) waits for it; it never touches another migration; a finished copy forgets it")
    func pendingAbort() {
        let outgoing = OutgoingMigrations()
        outgoing.cancel("m-1")
        outgoing.begin("m-1")
        #expect(outgoing.asked("m-1") == (cancel: true, force: false))
        outgoing.begin("m-2")
        #expect(outgoing.asked("m-2") == (cancel: false, force: false))
        outgoing.force("m-2")
        #expect(outgoing.asked("m-2") == (cancel: false, force: true))
        outgoing.end("m-1")
        #expect(outgoing.asked("m-1") == (cancel: false, force: false))
    }

    @Test("asks of migrations never in hand are bounded; those of copies in hand are kept")
    func bounded() {
        let outgoing = OutgoingMigrations()
        outgoing.begin("copying")
        outgoing.cancel("copying")
        for i in 0...OutgoingMigrations.pendingLimit { outgoing.cancel("over-\(i)") }
        #expect(outgoing.asked("copying").cancel)
        #expect(!outgoing.asked("over-0").cancel)
        #expect(outgoing.asked("over-\(OutgoingMigrations.pendingLimit)").cancel)
    }
}
