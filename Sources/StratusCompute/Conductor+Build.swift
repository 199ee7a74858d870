import StratusCore
import StratusMessages
import StratusNetwork
import StratusPlacement
import StratusScheduler

/// The build workflow: schedule → (group reservation) → claim → send to the host → spawned, or reschedule.
extension Conductor {
    /// Schedules and claims, then hands the instance to its host. No valid host: ERROR with Nova's fault.
    func build(_ uuid: String, tried: Set<String>, requestID: String, lastError: String? = nil) async throws {
        // Two deliveries of one build can run at once (a lease that ran out while the first was still working).
        // The consumer's generation, read before the instance, decides which one places it: each claims only if the
        // generation is still what it read, and places only if it is still what its claim made it. The loser leaves
        // the claim it did not make alone.
        let generation = try await placement.consumerGeneration(uuid)
        // Only a build still at the scheduling step is scheduled: a redelivered message finds it past that.
        guard let instance = try await instances.instance(uuid), !instance.deleted, instance.vmState == .building,
              instance.taskState == .scheduling else { return }
        let started = Clock.now()
        var scheduling = try await decide(instance, tried: tried)
        for round in 1...Self.decisionRounds {
            let decision = scheduling.decision
            let membership = scheduling.membership
            let resources = scheduling.resources
            var refused = 0
            for host in decision.ordered {
                // A hard group policy is judged again under the group's lock, against members placed meanwhile. A host
                // refused there counts as a refused claim: the decision's few hosts may all go to members placed since,
                // and a fresh decision (which sees them) finds the room left.
                if let membership, !(try await groups.reserve(host: host.host, for: uuid, group: membership.group)) {
                    refused += 1
                    continue
                }
                let claim = ConsumerAllocations(
                    consumerUUID: uuid, allocations: [ProviderAllocation(providerUUID: host.nodeUUID, resources: resources)],
                    projectID: instance.projectID, userID: instance.userID, consumerType: "INSTANCE",
                    expectedGeneration: generation.map { .equals($0) } ?? .newConsumer)
                do {
                    try await placement.replaceAllocations([claim])
                } catch let error as StratusError {
                    if error.code.faultName == "placement.concurrent_update", try await placement.consumerGeneration(uuid) != generation {
                        // Another delivery of this build claimed since we read the consumer: it carries on, we stop.
                        // Our group reservation may have replaced its own: the member's host is the placed one's.
                        logger.info("build of \(uuid): another delivery claimed first; this one stops")
                        if membership != nil { try await restoreGroupHost(uuid) }
                        return
                    }
                    // Placement's answer: no room (someone took it first), the provider went, or placement too busy to
                    // settle the claim (the consumer as it was). The next host.
                    if membership != nil { try await groups.release(uuid) }
                    refused += 1
                    continue
                } catch {
                    // Not "no room": the database could not be asked. The message is retried later (the lease
                    // lapses); NoValidHost says only that there was no room.
                    if membership != nil { try await groups.release(uuid) }
                    throw error
                }
                let ports: [BoundPort]
                do {
                    ports = try await bindPorts(instance, host: host.host)
                } catch {
                    // Networking failed (no address left, a port in use): not the host's fault, so no reschedule.
                    try await fail(uuid, message: "Build of instance \(uuid) aborted: \(error)", details: "\(error)",
                                   event: "conductor_allocate_network", start: started, host: nil)
                    return
                }
                let claimed = (generation ?? 0) + 1
                let placing = try await queue.storage.transaction { tx -> Placing in
                    guard try await placement.confirmConsumer(uuid, generation: claimed, in: tx) else { return .outclaimed }
                    guard var current = try await instances.instance(uuid, in: tx), !current.deleted,
                          current.taskState == .scheduling else { return .unwanted }
                    current.host = host.host
                    current.node = host.host
                    current.taskState = .spawning
                    current.ports = ports.map { AttachedPort(id: $0.port.id, createdByBuild: $0.createdByBuild) }
                    try await instances.save(current, in: tx)
                    try await instances.recordEvent(
                        instanceUUID: uuid, action: "create", event: "conductor_schedule_and_build_instances", start: started,
                        result: "Success", host: host.host,
                        details: "chose \(host.host) of \(decision.ordered.count) hosts; \(decision.summary)", in: tx)
                    let spawn = Self.guest(current, flavor: current.flavor, ports: ports.map(\.port))
                    try await queue.send(.spawn(spawn), to: host.host, requestID: requestID, in: tx)
                    // The group knows the member where it is placed, whatever a duplicate delivery reserved meanwhile.
                    if membership != nil { try await groups.assign(host: host.host, to: uuid, in: tx) }
                    return .placed
                }
                if placing == .outclaimed {
                    guard try await placement.consumerGeneration(uuid) != nil else {
                        // Not outclaimed: the claim is gone (a delete released it, or a queued release did). A deleted
                        // server gets its ports back; one still waiting is built again from the start.
                        let current = try await instances.instance(uuid)
                        guard let current, !current.deleted else { await release(uuid, ports: true); return }
                        if current.taskState == .scheduling {
                            throw StratusError(.conflict, "the claim for \(uuid) went before the build recorded it; building again")
                        }
                        return
                    }
                    // Another delivery claimed after us: the claim in placement is its own, and it places the instance.
                    logger.info("build of \(uuid): another delivery claimed after this one; it places the instance")
                    if membership != nil { try await restoreGroupHost(uuid) }
                    return
                }
                // Deleted (or already placed by a duplicate delivery) while we were claiming: give the room back.
                if placing == .unwanted {
                    let current = try await instances.instance(uuid)
                    if current?.host != host.host || current?.deleted == true { await release(uuid, ports: true) }
                }
                return
            }
            // Every host tried was full by the database's account although this process's view had room (other
            // conductors claimed meanwhile; the refused claims corrected the view): decide again, a few times,
            // before saying there is no valid host.
            guard refused > 0, round < Self.decisionRounds else { break }
            scheduling = try await decide(instance, tried: tried)
        }
        let decision = scheduling.decision
        if let lastError {
            // A reschedule with no host left: Nova's MaxRetriesExceeded, carrying the last host's error.
            try await fail(uuid, message: "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance \(uuid).",
                           details: lastError, event: "conductor_schedule_and_build_instances", start: started, host: nil)
            return
        }
        let rejected = decision.steps.filter { $0.removed > 0 }.map { "\($0.filter) removed \($0.removed)" }
        try await fail(uuid, message: "No valid host was found. ",
                       details: "No valid host was found. There are not enough hosts available. "
                        + (rejected.isEmpty ? "" : "(" + rejected.joined(separator: ", ") + ")")
                        + " Filters: \(scheduling.candidates) hosts with room in placement; " + decision.summary,
                       event: "conductor_schedule_and_build_instances", start: started, host: nil)
    }

    /// A delivery that lost the race for a build may have replaced the group reservation of the one that won: the
    /// member's host is the placed instance's (or, not placed yet, the winner records it as it places).
    func restoreGroupHost(_ uuid: String) async throws {
        if let placed = try await instances.instance(uuid)?.host { try await groups.assign(host: placed, to: uuid) }
    }

    /// What became of a build's claim when it came to record the placement.
    enum Placing: Sendable { case placed, unwanted, outclaimed }

    /// Decisions one build may make when every chosen host turns out full (claims race across conductors).
    static let decisionRounds = 3

    /// One scheduling decision and what it was made from.
    public struct Scheduling: Sendable {
        public var decision: FilterScheduler.Decision
        public var resources: [String: Int]
        var membership: (group: ServerGroup, placement: GroupPlacement)?
        /// Hosts placement had room on, before the filters.
        public var candidates: Int
    }

    /// The scheduling decision for one instance: reads only (its group, hinted servers, the host view, placement's
    /// index), no writes; its duration goes to `metrics`. Hosts without room for the flavor never reach the
    /// filters. (Compute nodes are simple root providers; nested and shared resources are not scheduled here.)
    /// With `requestedHost`, only that one; `forced` (Nova's `force` of a move to a named host) skips the filters and
    /// weighers: the host must only have room, which the claim then checks.
    public func decide(_ instance: Instance, tried: Set<String>, only requestedHost: String? = nil, forced: Bool = false) async throws -> Scheduling {
        let clock = ContinuousClock.now
        var spec = RequestSpec(
            instanceUUID: instance.uuid, vcpus: instance.flavor.vcpus, memoryMB: instance.flavor.memoryMB,
            rootGB: instance.flavor.rootGB, availabilityZone: instance.availabilityZone)
        spec.ignoreHosts = tried
        spec.flavorExtraSpecs = instance.flavor.extraSpecs
        spec.imageProperties = instance.imageProperties
        // Only a server created with a group hint is in a group: the others skip the read.
        let membership = instance.hints.group == nil ? nil : try await groups.placement(of: instance.uuid)
        spec.group = membership?.placement
        if !instance.hints.sameHost.isEmpty { spec.sameHosts = try await hostsOf(instance.hints.sameHost) }
        if !instance.hints.differentHost.isEmpty { spec.differentHosts = try await hostsOf(instance.hints.differentHost) }
        var resources = ["VCPU": spec.vcpus, "MEMORY_MB": spec.memoryMB]
        if spec.rootGB > 0 { resources["DISK_GB"] = spec.rootGB }
        var hosts = try await hostStates(fitting: resources)
        if let requestedHost { hosts.removeAll { $0.host != requestedHost } }
        let decision = forced && requestedHost != nil ? FilterScheduler.Decision(ordered: hosts, steps: []) : scheduler.select(hosts, spec)
        metrics.record(ContinuousClock.now - clock)
        return Scheduling(decision: decision, resources: resources, membership: membership, candidates: hosts.count)
    }

    /// What a driver needs to run the instance's guest with `flavor` and `ports`.
    static func guest(_ instance: Instance, flavor: Flavor, ports: [Port]) -> SpawnRequest {
        SpawnRequest(
            instanceUUID: instance.uuid, instanceName: instance.instanceName, vcpus: flavor.vcpus, memoryMB: flavor.memoryMB,
            rootGB: flavor.rootGB, imageRef: instance.imageRef, hostname: instance.hostname,
            ports: ports.map { SpawnPort(id: $0.id, mac: $0.macAddress) })
    }

    /// Hosts of the named instances, for the same_host / different_host hints.
    func hostsOf(_ uuids: [String]) async throws -> Set<String> {
        var hosts: Set<String> = []
        for uuid in uuids {
            if let host = try await instances.instance(uuid)?.host { hosts.insert(host) }
        }
        return hosts
    }

    func spawned(_ outcome: SpawnOutcome, requestID: String) async throws {
        let uuid = outcome.instanceUUID
        let host = outcome.host
        // One locked read decides: a build's report costs no read before its transaction.
        let evacuating = try await queue.storage.transaction { tx -> Bool in
            guard let instance = try await instances.instance(uuid, in: tx) else { return false }
            if instance.deleted {
                // Deleted while it was spawning: remove the guest that just appeared.
                try await queue.send(.destroy(InstanceRef(instanceUUID: uuid)), to: host, requestID: requestID, in: tx)
                return false
            }
            // Only an evacuation spawns with this task state.
            if instance.taskState == .rebuildSpawning { return true }
            // The same rule as the agents' acks apply to the reports they settle themselves (building, spawning, on
            // this host): a report of a spawn that was given up meanwhile (rescheduled, ERROR) changes nothing.
            _ = try await instances.completeSpawns([outcome], in: tx)
            return false
        }
        if evacuating, let evacuation = try await evacuation(of: uuid, on: host) {
            try await evacuated(evacuation, outcome: outcome, requestID: requestID)
        }
    }

    /// The host could not spawn: release its claim and try another host, up to `max_attempts`.
    func spawnFailed(_ outcome: SpawnOutcome, requestID: String) async throws {
        let uuid = outcome.instanceUUID
        let host = outcome.host
        let error = outcome.error ?? "the host gave no reason"
        let started = outcome.started
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        if instance.taskState == .rebuildSpawning, let evacuation = try await evacuation(of: uuid, on: host) {
            return try await evacuationFailed(evacuation, outcome: outcome)
        }
        guard instance.vmState == .building,
              instance.host == host, instance.taskState == .spawning else { return }
        await release(uuid, ports: false)  // the ports stay for the next host
        try await groups.release(uuid)
        let tried = try await triedHosts(uuid).union([host])
        let retry = tried.count < settings.maxAttempts
        try await queue.storage.transaction { tx in
            try await instances.recordEvent(
                instanceUUID: uuid, action: "create", event: "compute__do_build_and_run_instance", start: started,
                result: "Error", host: host, details: error, in: tx)
            guard retry, var current = try await instances.instance(uuid, in: tx) else { return }
            current.host = nil
            current.node = nil
            current.taskState = .scheduling
            try await instances.save(current, in: tx)
        }
        if retry {
            logger.info("rescheduling \(uuid) after failure on \(host): \(error)")
            try await build(uuid, tried: tried, requestID: requestID, lastError: error)
        } else {
            try await fail(uuid, message: "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance \(uuid).",
                           details: error, event: "compute__do_build_and_run_instance", start: started, host: host)
        }
    }

    /// Hosts this build already failed on, from its action events.
    func triedHosts(_ uuid: String) async throws -> Set<String> {
        let create = try await instances.actions(instanceUUID: uuid).first { $0.action == "create" }
        return Set(create?.events.filter { $0.name == "compute__do_build_and_run_instance" && $0.result == "Error" }.compactMap(\.host) ?? [])
    }

    /// ERROR with a fault; allocations and group reservation released once the ERROR is committed, so a claim
    /// racing with this sees the instance is no longer wanted and gives its room back itself. With
    /// `unchangedSince`, nothing happens if the instance moved on meanwhile (reconciliation's stale view).
    @discardableResult
    func fail(_ uuid: String, message: String, details: String, event: String, start: Double, host: String?,
              unchangedSince: Double? = nil) async throws -> Bool {
        let failed = try await queue.storage.transaction { tx -> Bool in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return false }
            if let unchangedSince, instance.updatedAt != unchangedSince { return false }
            instance.vmState = .error
            instance.taskState = nil
            instance.host = host
            instance.fault = Instance.Fault(code: 500, message: message, details: details)
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: "create", event: event, start: start, result: "Error", host: host,
                details: details, finishAction: true, in: tx)
            return true
        }
        if failed {
            await release(uuid, ports: true)
            try await groups.release(uuid)
        }
        return failed
    }
}
