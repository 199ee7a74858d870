import Foundation
import StratusComputeAgent
import Testing

@Suite("QEMU launch plan")
struct QEMULaunchPlanTests {
    func plan(boot: QEMULaunchPlan.Boot = .kernel(path: "/c/vmlinuz", initrd: "/c/initrd.gz", commandLine: "console=ttyS0 hostname=web"),
              disk: String? = "/i/u/disk.qcow2") -> QEMULaunchPlan {
        QEMULaunchPlan(name: "instance-u", directory: "/i/u", vcpus: 2, memoryMB: 128, accelerator: .tcg, boot: boot, disk: disk,
                       nics: [SpawnPort(id: "3f0c1a52-port", mac: "fa:16:3e:00:00:01")])
    }

    /// The value after `flag` in the arguments.
    func value(_ args: [String], _ flag: String) -> String? {
        args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    }

    @Test("a kernel boot: accelerator, size, serial socket with a log, QMP socket, kernel/initrd/append, virtio disk and NIC")
    func kernelBoot() {
        let args = plan().arguments
        #expect(value(args, "-accel") == "tcg")
        #expect(value(args, "-smp") == "2")
        #expect(value(args, "-m") == "128")
        #expect(value(args, "-chardev") == "socket,id=ser0,path=/i/u/serial.sock,server=on,wait=off,logfile=/i/u/console.log,logappend=on")
        #expect(args.contains("-daemonize"))
        #expect(value(args, "-pidfile") == "/i/u/qemu.pid")
        #expect(!args.contains("-incoming"))
        #expect(value(args, "-serial") == "chardev:ser0")
        #expect(value(args, "-qmp") == "unix:/i/u/qmp.sock,server=on,wait=off")
        #expect(value(args, "-kernel") == "/c/vmlinuz")
        #expect(value(args, "-initrd") == "/c/initrd.gz")
        #expect(value(args, "-append") == "console=ttyS0 hostname=web")
        #expect(value(args, "-drive") == "file=/i/u/disk.qcow2,format=qcow2,if=virtio,cache=none,aio=threads")
        #expect(value(args, "-netdev") == "user,id=net0")
        #expect(value(args, "-device") == "virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01")
        #expect(!args.contains("-boot"))
        #expect(plan().problem == nil)
    }

    @Test("a disk boot has no kernel; plans that cannot run say why")
    func diskBootAndProblems() {
        let args = plan(boot: .disk).arguments
        #expect(value(args, "-boot") == "c")
        #expect(!args.contains("-kernel"))
        #expect(plan(boot: .disk, disk: nil).problem == "booting from disk needs a disk")
        var small = plan()
        small.memoryMB = 8
        #expect(small.problem != nil)
        var badMAC = plan()
        badMAC.nics = [SpawnPort(id: "p1", mac: "zz")]
        #expect(badMAC.problem == "port p1 has an invalid MAC zz")
    }

    @Test("commas in names and paths are doubled, as QEMU's option syntax wants")
    func commasEscaped() {
        let odd = QEMULaunchPlan(name: "web,1", directory: "/i/a,b", vcpus: 1, memoryMB: 64, accelerator: .kvm, boot: .disk,
                                 disk: "/i/a,b/disk")
        #expect(value(odd.arguments, "-name") == "guest=web,,1,debug-threads=on")
        #expect(value(odd.arguments, "-drive") == "file=/i/a,,b/disk,format=qcow2,if=virtio,cache=none,aio=threads")
        #expect(value(odd.arguments, "-qmp") == "unix:/i/a,,b/qmp.sock,server=on,wait=off")
        #expect(value(odd.arguments, "-pidfile") == "/i/a,b/qemu.pid")
        #expect(value(odd.arguments, "-accel") == "kvm")
    }

    @Test("a resume starts from the saved state; the plan survives being written to the instance directory")
    func incomingAndPersistence() throws {
        var resumed = plan()
        resumed.incoming = "exec:cat /i/u/suspended.state"
        #expect(value(resumed.arguments, "-incoming") == "exec:cat /i/u/suspended.state")
        let data = try JSONEncoder().encode(resumed)
        #expect(try JSONDecoder().decode(QEMULaunchPlan.self, from: data) == resumed)
    }
}
