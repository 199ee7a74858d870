import Crypto
import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// An image API client for tests.
struct ImageClient {
    let http: TestHTTP
    let token: String

    static func admin(_ cloud: ReadyCloud) async throws -> ImageClient {
        let http = TestHTTP(baseURL: cloud.baseURL)
        return ImageClient(http: http, token: try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin"))
    }

    static func demo(_ cloud: ReadyCloud) async throws -> ImageClient {
        let http = TestHTTP(baseURL: cloud.baseURL)
        return ImageClient(http: http, token: try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo"))
    }

    func call(_ method: String, _ path: String, json: JSON? = nil) async throws -> TestHTTP.Reply {
        try await http.request(method, "/image/v2" + path, token: token, json: json)
    }

    func create(_ fields: JSON) async throws -> String {
        let reply = try await call("POST", "/images", json: fields)
        guard reply.status == 201, let id = reply.json["id"]?.stringValue else {
            throw StratusError.badRequest("image create failed: \(reply.status) \(reply.json.encodedString())")
        }
        return id
    }

    func upload(_ id: String, _ data: Data) async throws -> TestHTTP.Reply {
        try await http.request("PUT", "/image/v2/images/\(id)/file", token: token, rawBody: data,
                               headers: ["Content-Type": "application/octet-stream"])
    }

    func patch(_ id: String, _ operations: JSON, contentType: String = "application/openstack-images-v2.1-json-patch") async throws -> TestHTTP.Reply {
        try await http.request("PATCH", "/image/v2/images/\(id)", token: token, rawBody: operations.encoded(),
                               headers: ["Content-Type": contentType])
    }
}

/// A 1 MiB qcow2-looking file: the header's magic and a 64 MiB virtual size, then zeros and a pattern.
func qcow2Bytes() -> Data {
    var bytes = [UInt8](repeating: 0, count: 1 << 20)
    bytes.replaceSubrange(0..<4, with: [0x51, 0x46, 0x49, 0xfb])
    bytes[7] = 3
    let virtual = UInt64(64 << 20)
    for i in 0..<8 { bytes[24 + i] = UInt8(virtual >> (56 - 8 * UInt64(i)) & 0xff) }
    for i in stride(from: 4096, to: bytes.count, by: 7) { bytes[i] = UInt8(i % 251) }
    return Data(bytes)
}

@Suite("Image API")
struct ImageAPITests {
    @Test("create → queued, upload → active with Glance's checksums and qcow2 virtual size, download is the same bytes")
    func uploadAndDownload() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await ImageClient.admin(cloud)
            let id = try await client.create(["name": "disk", "disk_format": "qcow2", "container_format": "bare", "hw_disk_bus": "virtio"])
            #expect(try await client.call("GET", "/images/\(id)").json["status"] == "queued")
            #expect(try await client.call("GET", "/images/\(id)/file").status == 204)
            let data = qcow2Bytes()
            #expect(try await client.upload(id, data).status == 204)
            let image = try await client.call("GET", "/images/\(id)").json
            #expect(image["status"] == "active")
            #expect(image["size"] == .int(data.count))
            #expect(image["virtual_size"] == .int(64 << 20))
            #expect(image["checksum"]?.stringValue == Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined())
            #expect(image["os_hash_algo"] == "sha512")
            #expect(image["os_hash_value"]?.stringValue == SHA512.hash(data: data).map { String(format: "%02x", $0) }.joined())
            #expect(image["hw_disk_bus"] == "virtio")
            let download = try await client.call("GET", "/images/\(id)/file")
            #expect(download.status == 200)
            #expect(download.body == data)
            #expect(download.header("Content-MD5") == image["checksum"]?.stringValue)
            #expect(try await client.upload(id, data).status == 409)  // active: no second upload
        }
    }

    @Test("an upload over image_size_cap is 413, the image is killed and no bits are left behind")
    func sizeCap() async throws {
        try await CloudFixture.withCloud(extraConfig: "[image]\nimage_size_cap = 1000\n") { cloud in
            let client = try await ImageClient.admin(cloud)
            let id = try await client.create(["name": "big", "disk_format": "raw", "container_format": "bare"])
            let reply = try await client.upload(id, Data(repeating: 7, count: 5000))
            #expect(reply.status == 413)
            #expect(try await client.call("GET", "/images/\(id)").json["status"] == "killed")
            let stored = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: cloud.cloudsFile).deletingLastPathComponent().path + "/images")
            #expect(stored.isEmpty)
            #expect(try await client.upload(id, Data(repeating: 7, count: 10)).status == 409)
        }
    }

    @Test("JSON patch: replace, add and remove properties; read-only 403, unknown op 400, wrong media type 415")
    func patching() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await ImageClient.admin(cloud)
            let id = try await client.create(["name": "p", "disk_format": "raw", "container_format": "bare"])
            let ok = try await client.patch(id, [
                ["op": "replace", "path": "/name", "value": "renamed"], ["op": "add", "path": "/hw_architecture", "value": "x86_64"],
                ["op": "replace", "path": "/min_ram", "value": 256],
            ])
            #expect(ok.status == 200)
            #expect(ok.json["name"] == "renamed")
            #expect(ok.json["hw_architecture"] == "x86_64")
            #expect(ok.json["min_ram"] == 256)
            #expect(try await client.patch(id, [["op": "remove", "path": "/hw_architecture"]]).json["hw_architecture"] == nil)
            #expect(try await client.patch(id, [["op": "replace", "path": "/status", "value": "active"]]).status == 403)
            #expect(try await client.patch(id, [["op": "replace", "path": "/checksum", "value": "x"]]).status == 403)
            #expect(try await client.patch(id, [["op": "move", "path": "/name", "value": "x"]]).status == 400)
            #expect(try await client.patch(id, [["op": "replace", "path": "/nothing_here", "value": "x"]]).status == 409)
            #expect(try await client.patch(id, [["op": "replace", "path": "/min_ram", "value": -1]]).status == 400)
            #expect(try await client.patch(id, [["op": "replace", "path": "/visibility", "value": "sideways"]]).status == 400)
            #expect(try await client.patch(id, [["op": "replace", "path": "/name", "value": "x"]], contentType: "application/json").status == 415)
            #expect(try await client.call("POST", "/images", json: ["name": "x", "status": "active"]).status == 403)
            #expect(try await client.call("POST", "/images", json: ["name": "x", "disk_format": "floppy"]).status == 400)
        }
    }

    @Test("protected images refuse delete; tags; deactivate blocks download for non-admins; delete removes the bits")
    func protectTagsDeactivate() async throws {
        try await CloudFixture.withCloud { cloud in
            let admin = try await ImageClient.admin(cloud)
            let demo = try await ImageClient.demo(cloud)
            let id = try await admin.create(["name": "pub", "disk_format": "raw", "container_format": "bare", "visibility": "public", "protected": true])
            #expect(try await admin.upload(id, Data("hello".utf8)).status == 204)
            #expect(try await admin.call("DELETE", "/images/\(id)").status == 403)
            #expect(try await admin.call("PUT", "/images/\(id)/tags/gold").status == 204)
            #expect(try await admin.call("GET", "/images?tag=gold").json["images"]?.arrayValue?.count == 1)
            #expect(try await admin.call("DELETE", "/images/\(id)/tags/gold").status == 204)
            #expect(try await admin.call("DELETE", "/images/\(id)/tags/gold").status == 404)
            #expect(try await demo.call("GET", "/images/\(id)/file").body == Data("hello".utf8))
            #expect(try await demo.call("POST", "/images/\(id)/actions/deactivate").status == 403)
            #expect(try await admin.call("POST", "/images/\(id)/actions/deactivate").status == 204)
            #expect(try await demo.call("GET", "/images/\(id)/file").status == 403)
            #expect(try await admin.call("POST", "/images/\(id)/actions/reactivate").status == 204)
            #expect(try await demo.call("DELETE", "/images/\(id)").status == 403)
            #expect(try await admin.patch(id, [["op": "replace", "path": "/protected", "value": false]]).status == 200)
            #expect(try await admin.call("DELETE", "/images/\(id)").status == 204)
            #expect(try await admin.call("GET", "/images/\(id)").status == 404)
            #expect(try await demo.call("POST", "/images", json: ["name": "mine", "visibility": "public"]).status == 403)
        }
    }

    @Test("visibility and sharing: private images are 404 to others; shared ones appear once the member accepts")
    func sharing() async throws {
        try await CloudFixture.withCloud { cloud in
            let admin = try await ImageClient.admin(cloud)
            let demo = try await ImageClient.demo(cloud)
            let demoProject = try #require(try await demo.http.projectID(token: demo.token))
            let hidden = try await admin.create(["name": "private", "visibility": "private"])
            #expect(try await demo.call("GET", "/images/\(hidden)").status == 404)
            #expect(try await admin.call("POST", "/images/\(hidden)/members", json: ["member": .string(demoProject)]).status == 403)
            let shared = try await admin.create(["name": "shared", "visibility": "shared"])
            #expect(try await admin.call("POST", "/images/\(shared)/members", json: ["member": .string(demoProject)]).status == 200)
            #expect(try await admin.call("POST", "/images/\(shared)/members", json: ["member": .string(demoProject)]).status == 409)
            #expect(try await demo.call("GET", "/images/\(shared)").status == 200)
            let before = try await demo.call("GET", "/images").json["images"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(!before.contains(shared))
            #expect(try await demo.call("PUT", "/images/\(shared)/members/\(demoProject)", json: ["status": "accepted"]).status == 200)
            let after = try await demo.call("GET", "/images").json["images"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(after.contains(shared))
            #expect(!after.contains(hidden))
            #expect(try await admin.call("PUT", "/images/\(shared)/members/\(demoProject)", json: ["status": "rejected"]).status == 403)
        }
    }

    @Test("list: filters, sort and limit with a next link")
    func listing() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await ImageClient.admin(cloud)
            for name in ["c", "a", "b"] { _ = try await client.create(["name": .string(name), "disk_format": "qcow2", "container_format": "bare"]) }
            let sorted = try await client.call("GET", "/images?sort=name:asc&disk_format=qcow2")
            #expect(sorted.json["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a", "b", "c"])
            let page = try await client.call("GET", "/images?sort_key=name&sort_dir=asc&limit=2&disk_format=qcow2")
            #expect(page.json["images"]?.arrayValue?.count == 2)
            let next = try #require(page.json["next"]?.stringValue)
            let rest = try await client.http.request("GET", "/image" + next, token: client.token)
            #expect(rest.json["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["c"])
            #expect(try await client.call("GET", "/images?sort_key=colour").status == 400)
            #expect(try await client.call("GET", "/images?marker=nope").status == 400)
        }
    }
}
