import Crypto
import Foundation
import Synchronization

/// The services this cloud offers and where: what Keystone's catalog lists in every scoped token.
///
/// The base URL is set once the listener is bound (port 0 picks a free port), so it lives behind a lock.
public final class ServiceCatalog: Sendable {
    /// One service in the catalog, served under `path` of the shared listener.
    public struct Service: Sendable, Equatable {
        public let type: String
        public let name: String
        public let path: String

        public init(type: String, name: String, path: String) {
            self.type = type
            self.name = name
            self.path = path
        }

        /// Stable across restarts, so clients caching ids are not confused.
        public var id: String { Self.stableID("service:" + type) }
        public func endpointID(_ interface: String) -> String { Self.stableID("endpoint:\(type):\(interface)") }

        static func stableID(_ text: String) -> String {
            Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }

    public let region: String
    private let state: Mutex<(baseURL: String, services: [Service])>

    public init(baseURL: String, region: String, services: [Service]) {
        self.region = region
        self.state = Mutex((baseURL, services))
    }

    /// `http://host:port`, without a trailing slash.
    public var baseURL: String {
        get { state.withLock { $0.baseURL } }
        set { state.withLock { $0.baseURL = newValue } }
    }

    public var services: [Service] { state.withLock { $0.services } }

    public func add(_ service: Service) {
        state.withLock { state in
            if !state.services.contains(service) { state.services.append(service) }
        }
    }

    public func url(_ service: Service) -> String { baseURL + service.path }

    /// The identity endpoint clients authenticate against (`auth_url`).
    public var identityURL: String { baseURL + "/identity" }
}
