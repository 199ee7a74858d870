import StratusCore

/// The QEMU command line for one guest, as a value built from what the host knows: tested without running QEMU,
/// kept in the instance directory (`guest.json`) so any later agent starts the same guest again. Paths follow
/// Nova's `instances_path/UUID/`.
public struct QEMULaunchPlan: Sendable, Equatable, Codable {
    /// KVM when the host's probe says it works, TCG otherwise (our CI machines: TCG, see qemu-here.md).
    public enum Accelerator: String, Sendable, Codable { case kvm, tcg }

    /// A kernel and initrd given as image properties (`kernel_id`/`ramdisk_id`), or a bootable disk via BIOS.
    public enum Boot: Sendable, Equatable, Codable {
        case kernel(path: String, initrd: String?, commandLine: String)
        case disk
    }

    public var binary = "qemu-system-x86_64"
    public var name: String
    /// `instances_path/UUID`
    public var directory: String
    public var vcpus: Int
    public var memoryMB: Int
    public var accelerator: Accelerator
    public var boot: Boot
    /// The copy-on-write overlay on the cached base image, if the guest has a disk.
    public var disk: String?
    /// One virtio NIC per bound port, with the port's MAC; until host networking exists each has QEMU's user-mode
    /// backend. NIC N is netdev `netN` (a port id, a UUID, may start with a digit: not a valid QEMU id).
    public var nics: [SpawnPort]
    /// Where to take the guest's state from instead of booting (a resume after suspend): `exec:cat FILE`.
    public var incoming: String?
    /// Where the monitor and serial sockets and the pid file are when not in `directory`: with a shared
    /// instances_path, each host's own subdirectory, so two hosts' QEMUs of one guest never meet.
    public var runtimeDirectory: String?

    public init(name: String, directory: String, vcpus: Int, memoryMB: Int, accelerator: Accelerator, boot: Boot,
                disk: String? = nil, nics: [SpawnPort] = []) {
        self.name = name
        self.directory = directory
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.accelerator = accelerator
        self.boot = boot
        self.disk = disk
        self.nics = nics
    }

    var runtime: String { runtimeDirectory ?? directory }
    public var qmpSocket: String { runtime + "/qmp.sock" }
    public var serialSocket: String { runtime + "/serial.sock" }
    public var consoleLog: String { directory + "/console.log" }
    public var pidFile: String { runtime + "/qemu.pid" }
    /// The state a suspend saved, read back by resume.
    public var savedState: String { directory + "/suspended.state" }

    /// Why the plan cannot run, or nil.
    public var problem: String? {
        if vcpus < 1 { return "a guest needs at least one vCPU" }
        if memoryMB < 16 { return "a guest needs at least 16 MB of memory" }
        if case .disk = boot, disk == nil { return "booting from disk needs a disk" }
        if let bad = nics.first(where: { !MACAddress.isValid($0.mac) }) { return "port \(bad.id) has an invalid MAC \(bad.mac)" }
        return nil
    }

    /// The arguments after the binary. QEMU daemonizes once it is set up (errors are printed before, so a failed
    /// start carries QEMU's own words) and then outlives the agent that started it. The serial socket never waits for
    /// a client and appends everything to the console log — with no client attached QEMU drains the UART into the
    /// log, so the guest never stalls; QMP listens on a socket in the instance directory.
    public var arguments: [String] {
        // QEMU's option syntax splits on commas; a literal comma in a value is written twice.
        func q(_ value: String) -> String { value.replacingOccurrences(of: ",", with: ",,") }
        let (serialSocket, consoleLog, qmpSocket) = (q(self.serialSocket), q(self.consoleLog), q(self.qmpSocket))
        var args = [
            "-name", "guest=\(q(name)),debug-threads=on", "-accel", accelerator.rawValue, "-machine", "pc",
            "-smp", String(vcpus), "-m", String(memoryMB), "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
            "-chardev", "socket,id=ser0,path=\(serialSocket),server=on,wait=off,logfile=\(consoleLog),logappend=on",
            "-serial", "chardev:ser0", "-qmp", "unix:\(qmpSocket),server=on,wait=off",
            "-daemonize", "-pidfile", pidFile,
        ]
        switch boot {
        case .kernel(let path, let initrd, let commandLine):
            args += ["-kernel", path]
            if let initrd { args += ["-initrd", initrd] }
            args += ["-append", commandLine]
        case .disk:
            args += ["-boot", "c"]
        }
        if let disk { args += ["-drive", "file=\(q(disk)),format=qcow2,if=virtio,cache=none,aio=threads"] }
        for (index, nic) in nics.enumerated() {
            args += ["-netdev", "user,id=net\(index)", "-device", "virtio-net-pci,netdev=net\(index),mac=\(nic.mac)"]
        }
        if let incoming { args += ["-incoming", incoming] }
        return args
    }
}
