/// An error a person can act on, carrying a code that maps onto an OpenStack fault.
///
/// Handlers only throw these; one place per service renders them in that service's fault JSON.
public struct StratusError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure: an HTTP status plus the fault name Nova uses for it.
    public struct Code: Hashable, Sendable {
        public let status: Int
        /// Nova's fault key (`itemNotFound`, `badRequest`, …).
        public let faultName: String
        /// Keystone's `title` for the same status.
        public let title: String

        public init(status: Int, faultName: String, title: String) {
            self.status = status
            self.faultName = faultName
            self.title = title
        }

        public static let badRequest = Code(status: 400, faultName: "badRequest", title: "Bad Request")
        public static let unauthorized = Code(status: 401, faultName: "unauthorized", title: "Unauthorized")
        public static let forbidden = Code(status: 403, faultName: "forbidden", title: "Forbidden")
        public static let itemNotFound = Code(status: 404, faultName: "itemNotFound", title: "Not Found")
        public static let methodNotAllowed = Code(status: 405, faultName: "badMethod", title: "Method Not Allowed")
        public static let notAcceptable = Code(status: 406, faultName: "notAcceptable", title: "Not Acceptable")
        public static let conflict = Code(status: 409, faultName: "conflictingRequest", title: "Conflict")
        public static let requestEntityTooLarge = Code(
            status: 413, faultName: "overLimit", title: "Request Entity Too Large")
        public static let unsupportedMediaType = Code(
            status: 415, faultName: "badMediaType", title: "Unsupported Media Type")
        public static let internalError = Code(status: 500, faultName: "computeFault", title: "Internal Server Error")
        public static let serviceUnavailable = Code(
            status: 503, faultName: "serviceUnavailable", title: "Service Unavailable")
    }

    public let code: Code
    /// Written for the person reading the CLI output.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.status) \(code.title): \(message)" }

    public static func badRequest(_ message: String) -> StratusError { .init(.badRequest, message) }
    public static func notFound(_ message: String) -> StratusError { .init(.itemNotFound, message) }
    public static func conflict(_ message: String) -> StratusError { .init(.conflict, message) }
    public static func forbidden(_ message: String) -> StratusError { .init(.forbidden, message) }
    public static func unauthorized(_ message: String) -> StratusError { .init(.unauthorized, message) }
}
