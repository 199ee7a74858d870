import Foundation
import Hummingbird
import NIOCore
import StratusCore

/// Builds JSON responses.
public enum JSONResponse {
    public static func make(status: HTTPResponse.Status, _ body: JSON, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.encodedBytes())))
    }

    /// A JSON body already serialised.
    public static func bytes(status: HTTPResponse.Status, _ body: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    public static func empty(_ status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> Response {
        Response(status: status, headers: headers)
    }
}

extension Request {
    /// Reads the body up to `limit` bytes and parses it as a JSON object. Too large: 413; not JSON or not an
    /// object: 400 with a message saying so.
    public func jsonObject(limit: Int) async throws -> JSON {
        let json = try await jsonValue(limit: limit)
        guard case .object = json else {
            throw StratusError.badRequest("Malformed request body: expected a JSON object, got \(json.typeName).")
        }
        return json
    }

    /// Reads the body up to `limit` bytes and parses any JSON value.
    public func jsonValue(limit: Int) async throws -> JSON {
        let buffer = try await collectBody(limit: limit)
        guard buffer.readableBytes > 0 else {
            throw StratusError.badRequest("The request body is empty; a JSON object is required.")
        }
        let json: JSON
        do {
            json = try JSON.parse(bytes: Array(buffer.readableBytesView))
        } catch {
            throw StratusError.badRequest("Malformed request body: the body is not valid JSON.")
        }
        return json
    }
}
