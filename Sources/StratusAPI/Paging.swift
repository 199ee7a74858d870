import Foundation
import Hummingbird
import StratusCore

/// How OpenStack list APIs sort and page: several sort keys each with a direction, then `marker` (the id after
/// which the page starts) and `limit`, with the query of the next page. Shared by servers and images.
enum Paging {
    /// Sorts by each `(key, direction)` in turn, `comparator` naming each key's "less than" (unknown keys skipped).
    static func sort<Item>(_ list: inout [Item], by order: [(key: String, direction: String)],
                           comparator: (String) -> ((Item, Item) -> Bool)?) {
        let comparators = order.compactMap { entry in comparator(entry.key).map { (less: $0, direction: entry.direction) } }
        list.sort { a, b in
            for (less, direction) in comparators {
                if less(a, b) { return direction == "asc" }
                if less(b, a) { return direction != "asc" }
            }
            return false
        }
    }

    /// The page after `marker` of at most `limit` items, and the query string of the next page when more remain.
    static func page<Item>(_ list: [Item], request: Request, limit: Int, id: (Item) -> String,
                           markerNotFound: (String) -> StratusError) throws -> (items: [Item], next: String?) {
        var rest = list[...]
        if let marker = request.uri.queryParameters["marker"].map(String.init) {
            guard let index = list.firstIndex(where: { id($0) == marker }) else { throw markerNotFound(marker) }
            rest = list[(index + 1)...]
        }
        let page = Array(rest.prefix(limit))
        guard rest.count > limit, let last = page.last else { return (page, nil) }
        var next = URLComponents()
        next.queryItems = request.uri.queryParameters.filter { $0.key != "marker" }.map { URLQueryItem(name: String($0.key), value: String($0.value)) }
            + [URLQueryItem(name: "marker", value: id(last))]
        return (page, next.percentEncodedQuery)
    }

    /// `limit` from the query: a non-negative integer, at most `maximum`; `fallback` when absent.
    static func limit(_ request: Request, fallback: Int, maximum: Int) throws -> Int {
        guard let text = request.uri.queryParameters["limit"].map(String.init) else { return fallback }
        guard let value = Int(text), value >= 0 else { throw StratusError.badRequest("limit param must be a non-negative integer") }
        return min(value, maximum)
    }
}
