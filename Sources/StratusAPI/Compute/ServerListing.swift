import Foundation
import Hummingbird
import StratusCompute
import StratusCore

/// `GET /servers[/detail]`: Nova's filters, sort keys and marker/limit pagination with a `next` link.
extension ComputeAPI {
    static let maxLimit = 1000
    static let sortKeys: [String: @Sendable (Instance, Instance) -> Bool] = [
        "created_at": { $0.createdAt < $1.createdAt }, "updated_at": { $0.updatedAt < $1.updatedAt },
        "display_name": { $0.name < $1.name }, "uuid": { $0.uuid < $1.uuid }, "vm_state": { $0.vmState.rawValue < $1.vmState.rawValue },
        "task_state": { ($0.taskState?.rawValue ?? "") < ($1.taskState?.rawValue ?? "") },
        "host": { ($0.host ?? "") < ($1.host ?? "") }, "node": { ($0.node ?? "") < ($1.node ?? "") },
        "project_id": { $0.projectID < $1.projectID }, "user_id": { $0.userID < $1.userID },
        "availability_zone": { ($0.availabilityZone ?? "") < ($1.availabilityZone ?? "") },
        "launched_at": { ($0.launchedAt ?? 0) < ($1.launchedAt ?? 0) }, "locked": { !$0.locked && $1.locked },
        "instance_type_id": { $0.flavor.id < $1.flavor.id }, "image_ref": { $0.imageRef < $1.imageRef },
    ]

    /// The servers the caller may list, filtered, sorted and paged; the second value is the query of the next page.
    func visibleServers(_ request: Request, _ context: StratusRequestContext, detail: Bool) async throws -> ([Instance], String?) {
        let auth = try context.requireAuth()
        let params = request.uri.queryParameters
        func all(_ name: String) -> [String] { params[values: Substring(name)].map(String.init) }
        func one(_ name: String) -> String? { query(request, name) }
        // Nova refuses all_tenants to callers its rule does not allow; the caller's project always bounds the rest.
        let allProjects = ["1", "true", "True", ""].contains(one("all_tenants") ?? "no")
        if allProjects {
            try context.authorize("os_compute_api:servers:\(detail ? "detail" : "index"):get_all_tenants",
                                  target: ["project_id": auth.projectID ?? ""], path: request.uri.path)
        }
        let project = allProjects ? (one("project_id") ?? one("tenant_id")) : try auth.requireProjectID()
        var list = try await servers.list(projectID: project)

        if let name = one("name") { list = try Self.filterByName(list, pattern: name, clientGone: context.clientGone) }
        if let status = one("status")?.uppercased() {
            let known = ["ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "PAUSED", "REBOOT", "SHUTOFF", "SUSPENDED",
                         "RESCUE", "VERIFY_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SOFT_DELETED", "MIGRATING", "RESIZE", "UNKNOWN"]
            guard known.contains(status) else { throw StratusError.badRequest("Invalid status value") }
            list = list.filter { $0.status == status }
        }
        if auth.isAdmin, let host = one("host") { list = list.filter { $0.host == host } }
        if auth.isAdmin, let node = one("node") { list = list.filter { $0.node == node } }
        if let flavor = one("flavor") { list = list.filter { $0.flavor.id == flavor } }
        if let image = one("image") { list = list.filter { $0.imageRef == image } }
        if let zone = one("availability_zone") { list = list.filter { ($0.availabilityZone ?? "nova") == zone } }
        if let user = one("user_id") { list = list.filter { $0.userID == user } }
        if let locked = one("locked"), context.microversion.atLeast(2, 73) {
            let wanted = ["true", "1", "yes"].contains(locked.lowercased())
            list = list.filter { $0.locked == wanted }
        }
        if let since = one("changes-since") {
            guard let time = Clock.parseISO8601(since) else { throw StratusError.badRequest("Invalid filter field: changes-since.") }
            list = list.filter { $0.updatedAt >= time }
        }
        func tagList(_ name: String) -> [String]? { one(name).map { $0.split(separator: ",").map(String.init) } }
        if let tags = tagList("tags") { list = list.filter { Set($0.tags).isSuperset(of: tags) } }
        if let tags = tagList("tags-any") { list = list.filter { !Set($0.tags).isDisjoint(with: tags) } }
        if let tags = tagList("not-tags") { list = list.filter { !Set($0.tags).isSuperset(of: tags) } }
        if let tags = tagList("not-tags-any") { list = list.filter { Set($0.tags).isDisjoint(with: tags) } }

        let keys = all("sort_key")
        let dirs = all("sort_dir")
        for key in keys where Self.sortKeys[key] == nil {
            throw StratusError.badRequest("Invalid input for query parameter sort_key. Value: \(key).")
        }
        for dir in dirs where dir != "asc" && dir != "desc" {
            throw StratusError.badRequest("Invalid input for query parameter sort_dir. Value: \(dir). It must be asc or desc.")
        }
        let order = keys.isEmpty ? [("created_at", "desc")] : keys.enumerated().map { ($1, $0 < dirs.count ? dirs[$0] : "desc") }
        Paging.sort(&list, by: (order + [("uuid", "desc")]).map { (key: $0.0, direction: $0.1) }, comparator: { Self.sortKeys[$0] })
        let page = try Paging.page(list, request: request, limit: try Paging.limit(request, fallback: Self.maxLimit, maximum: Self.maxLimit),
                                   id: \.uuid, markerNotFound: { StratusError.badRequest("marker [\($0)] not found") })
        return (page.items, page.next)
    }

    /// Nova's `name` filter: a Python regular expression searched in each name, run in linear time within a budget.
    static func filterByName(_ list: [Instance], pattern: String, clientGone: () -> Bool) throws -> [Instance] {
        let regex: LinearRegex
        do {
            regex = try LinearRegex(pattern)
        } catch {
            throw StratusError.badRequest("Invalid input for query parameter name: not a supported regular expression (\(error.message)).")
        }
        var budget = LinearRegex.requestBudget
        var checked = 0
        return try list.filter { instance in
            checked += 1
            if checked % 64 == 0 && clientGone() {
                throw StratusError(.init(status: 499, faultName: "clientClosedRequest", title: "Client Closed Request"),
                                   "The client closed the connection; the name filter was stopped.")
            }
            guard let found = regex.search(instance.name, budget: &budget) else {
                throw StratusError.badRequest("Invalid input for query parameter name: the pattern is too expensive to evaluate over this many servers.")
            }
            return found
        }
    }
}
