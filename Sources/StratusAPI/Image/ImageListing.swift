import Foundation
import Hummingbird
import StratusCore
import StratusImage

/// `GET /v2/images`: Glance's visibility rules, filters, sorting and marker/limit paging with a `next` link.
extension ImageAPI {
    static let defaultLimit = 25
    static let maxLimit = 1000

    func listImages(_ request: Request, _ context: StratusRequestContext) async throws -> Response {
        let auth = try context.requireAuth()
        let params = request.uri.queryParameters
        func one(_ name: String) -> String? { params[Substring(name)].map(String.init) }
        let memberships = try await store.memberships(of: auth.projectID ?? "")
        let visibilityFilter = one("visibility")
        if let visibilityFilter, !(Image.visibilities + ["all"]).contains(visibilityFilter) {
            throw StratusError.badRequest("Invalid visibility value: \(visibilityFilter)")
        }
        let memberStatus = one("member_status") ?? "accepted"
        var list = try await store.all().filter { image in
            let mine = image.owner == auth.projectID
            switch visibilityFilter {
            case "community": return image.visibility == "community"
            case nil, "all":
                if auth.isAdmin { return visibilityFilter == "all" || image.visibility != "community" || mine }
                if mine || image.visibility == "public" { return true }
                if image.visibility == "community" { return visibilityFilter == "all" }
                guard let status = memberships[image.id] else { return false }
                return memberStatus == "all" || status == memberStatus
            default:
                guard image.visibility == visibilityFilter else { return false }
                return auth.isAdmin || mine || image.visibility == "public" || memberships[image.id] != nil
            }
        }
        if let name = one("name") { list = list.filter { $0.name == name } }
        if let status = one("status") { list = list.filter { $0.status.rawValue == status } }
        if let owner = one("owner") { list = list.filter { $0.owner == owner } }
        if let format = one("disk_format") { list = list.filter { $0.diskFormat == format } }
        if let format = one("container_format") { list = list.filter { $0.containerFormat == format } }
        if let text = one("protected") { list = list.filter { $0.protected == (text == "true") } }
        let hidden = one("os_hidden") == "true"
        list = list.filter { $0.hidden == hidden }
        let tags = params[values: "tag"].map(String.init)
        if !tags.isEmpty { list = list.filter { Set($0.tags).isSuperset(of: tags) } }
        if let text = one("size_min") { guard let n = Int(text) else { throw StratusError.badRequest("size_min must be an integer") }; list = list.filter { ($0.size ?? 0) >= n } }
        if let text = one("size_max") { guard let n = Int(text) else { throw StratusError.badRequest("size_max must be an integer") }; list = list.filter { ($0.size ?? 0) <= n } }

        var order: [(String, String)] = []
        if let sort = one("sort") {
            for part in sort.split(separator: ",") {
                let pieces = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                order.append((pieces[0], pieces.count > 1 ? pieces[1] : "desc"))
            }
        } else {
            let keys = params[values: "sort_key"].map(String.init)
            let dirs = params[values: "sort_dir"].map(String.init)
            order = keys.enumerated().map { ($1, $0 < dirs.count ? dirs[$0] : (dirs.last ?? "desc")) }
        }
        if order.isEmpty { order = [("created_at", "desc")] }
        let keys: [String: (Image, Image) -> Bool] = [
            "name": { ($0.name ?? "") < ($1.name ?? "") }, "created_at": { $0.createdAt < $1.createdAt },
            "updated_at": { $0.updatedAt < $1.updatedAt }, "size": { ($0.size ?? 0) < ($1.size ?? 0) }, "id": { $0.id < $1.id },
            "status": { $0.status.rawValue < $1.status.rawValue }, "visibility": { $0.visibility < $1.visibility },
            "disk_format": { ($0.diskFormat ?? "") < ($1.diskFormat ?? "") }, "min_ram": { $0.minRAM < $1.minRAM },
            "min_disk": { $0.minDisk < $1.minDisk }, "owner": { $0.owner < $1.owner },
        ]
        for (key, dir) in order {
            guard keys[key] != nil else { throw StratusError.badRequest("Invalid sort key: \(key).") }
            guard dir == "asc" || dir == "desc" else { throw StratusError.badRequest("Invalid sort direction: \(dir)") }
        }
        Paging.sort(&list, by: (order + [("id", "desc")]).map { (key: $0.0, direction: $0.1) }, comparator: { keys[$0] })
        let page = try Paging.page(list, request: request, limit: try Paging.limit(request, fallback: Self.defaultLimit, maximum: Self.maxLimit),
                                   id: \.id, markerNotFound: { StratusError.badRequest("marker \($0) could not be found.") })
        var body: [String: JSON] = ["images": .array(page.items.map(imageJSON)), "first": "/v2/images", "schema": "/v2/schemas/images"]
        if let next = page.next { body["next"] = .string("/v2/images?" + next) }
        return JSONResponse.make(status: .ok, .object(body))
    }
}
