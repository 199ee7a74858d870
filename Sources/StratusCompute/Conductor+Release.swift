import StratusCore
import StratusMessages
import StratusQueue

/// Giving back what an instance held: its claim in placement and, unless it is only being rescheduled, its ports.
/// A release that fails is never dropped: it becomes a `release` message on the conductor's topic, retried with
/// the queue's backoff and dead-lettered (for an operator to see) only when every attempt failed.
extension Conductor {
    /// Releases now, or queues the release to retry. Never throws: the caller's step is done either way.
    func release(_ uuid: String, ports: Bool) async {
        do {
            try await releaseNow(uuid, ports: ports)
        } catch {
            logger.warning("releasing what \(uuid) held failed, queued to retry: \(error)")
            do {
                try await queue.request(.release(ReleaseRequest(instanceUUID: uuid, ports: ports)))
            } catch {
                logger.error("could not queue the release of \(uuid) either (\(error)); the allocation may stay until the next delete")
            }
        }
    }

    /// The release itself; throws so the queue retries it. Nothing left to release is success.
    func releaseNow(_ uuid: String, ports: Bool) async throws {
        do {
            try await placement.deleteAllocations(consumerUUID: uuid)
        } catch let error as StratusError where error.code.status == 404 {
            // no allocations: already given back
        }
        if ports {
            let requested = try await instances.instance(uuid)?.requestedNetworks ?? []
            try await releasePorts(uuid, requested: requested)
        }
    }
}
