import Foundation
import Hummingbird
import NIOCore
import StratusCore

/// Checks on the text of a request line that every route shares: path parameters are percent-decoded, and NUL or
/// bytes that are not UTF-8 are refused (PostgreSQL TEXT cannot hold NUL; silently cutting a name short is worse).
enum RequestText {
    static func decodedParameters(_ parameters: Parameters) throws -> Parameters {
        var decoded = Parameters()
        for (key, value) in parameters {
            guard let text = String(value).removingPercentEncoding, !text.contains("\u{0}") else {
                throw StratusError.badRequest("The path segment '\(value)' holds a NUL character or bytes that are not UTF-8.")
            }
            decoded.append(key: key, value: Substring(text))
        }
        return decoded
    }

    static func checkQuery(_ query: String?) throws {
        guard let query, !query.isEmpty else { return }
        for component in query.split(separator: "&") {
            let text = component.replacingOccurrences(of: "+", with: " ")
            guard let decoded = text.removingPercentEncoding, !decoded.contains("\u{0}") else {
                throw StratusError.badRequest("The query parameter '\(component)' holds a NUL character or bytes that are not UTF-8.")
            }
        }
    }
}

extension Request {
    /// The whole body up to `limit` bytes: over it 413; a body cut short or mis-framed (bad chunk size, connection
    /// closed early) 400.
    public func collectBody(limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw StratusError(.requestEntityTooLarge, "Request body is larger than the limit of \(limit) bytes.")
        } catch {
            throw StratusError.badRequest("The request body was cut short or is not framed correctly.")
        }
    }
}
