import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Policy matrix: every route against every kind of caller")
struct PolicyMatrixTests {
    @Test("each route answers each caller as the default policy says, and no route lacks a row")
    func matrix() async throws {
        try await CloudFixture.withCloud(extraConfig: "[fake_driver]\nhost_count = 1") { cloud in
            let world = try await MatrixWorld.make(cloud)
            var covered: [String] = []
            var failures: [String] = []
            // Each registered route needs its rows, and each row a route.
            var expected = PolicyMatrix.rows
            for route in cloud.routes {
                let keys = route.rules.keys.filter { !$0.isEmpty }
                for key in keys.isEmpty ? [route.description] : keys.sorted().map({ "\(route.description)#\($0)" }) {
                    let normalized = key.replacingOccurrences(of: " /", with: " ")
                    if expected.removeValue(forKey: normalized) == nil { failures.append("\(normalized): no row in the matrix") }
                    covered.append(normalized)
                }
            }
            for stale in expected.keys.sorted() { failures.append("\(stale): a row for a route that does not exist") }
            // Destructive calls last, so the objects the other rows use exist while they run.
            let ordered = covered.sorted { rank($0) < rank($1) }
            for key in ordered {
                guard let row = PolicyMatrix.rows[key] else { continue }
                for (index, caller) in PolicyMatrix.callers.enumerated() {
                    let want = Array(row)[index]
                    let status = try await world.call(key, as: index)
                    let ok: Bool
                    switch want {
                    case "A": ok = status != 401 && status != 403 && status < 500
                    case "U": ok = status == 401
                    case "F": ok = status == 403
                    case "H": ok = status == 404
                    default: ok = false
                    }
                    if !ok { failures.append("\(key) as \(caller): \(status), expected \(want)") }
                }
            }
            print("policy matrix: \(covered.count) rows × \(PolicyMatrix.callers.count) callers:\n  " + covered.sorted().joined(separator: "\n  "))
            #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
            #expect(covered.count > 190)
        }
    }

    func rank(_ key: String) -> Int {
        if key.hasSuffix("#forceDelete") || key.hasSuffix("#os-forceDelete") { return 2 }
        return key.hasPrefix("DELETE ") ? 3 : 1
    }
}

/// The objects and callers the matrix runs against: project A (the demo project) owns a server, network, subnet,
/// port, security group and rule, image, key pair and server group.
struct MatrixWorld: Sendable {
    let http: TestHTTP
    /// Tokens by caller column (nil: none).
    let tokens: [String?]
    let values: [String: String]
    let memberPassword: String

    static func make(_ cloud: ReadyCloud) async throws -> MatrixWorld {
        let http = TestHTTP(baseURL: cloud.baseURL)
        let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
        let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
        func must(_ method: String, _ path: String, _ token: String, _ json: JSON? = nil, _ headers: [String: String] = [:]) async throws -> JSON {
            let reply = try await http.request(method, path, token: token, json: json, headers: headers)
            guard reply.status < 300 else { throw StratusError.badRequest("setup \(method) \(path): \(reply.status) \(String(decoding: reply.body, as: UTF8.self))") }
            return reply.json
        }
        func id(_ json: JSON, _ key: String) throws -> String {
            guard let value = json[key]?["id"]?.stringValue ?? json["id"]?.stringValue else { throw StratusError.badRequest("no id in \(json.encodedString())") }
            return value
        }
        let roles = try await must("GET", "/identity/v3/roles", admin)["roles"]?.arrayValue ?? []
        func role(_ name: String) -> String { roles.first { $0["name"]?.stringValue == name }?["id"]?.stringValue ?? "" }
        func project(_ name: String) async throws -> String {
            try id(try await must("POST", "/identity/v3/projects", admin, ["project": ["name": .string(name), "domain_id": "default"]]), "project")
        }
        func user(_ name: String, on project: String, _ roleName: String) async throws -> String {
            let user = try id(try await must("POST", "/identity/v3/users", admin, ["user": ["name": .string(name), "password": "matrix-pw", "domain_id": "default"]]), "user")
            _ = try await must("PUT", "/identity/v3/projects/\(project)/users/\(user)/roles/\(role(roleName))", admin)
            return user
        }
        let projectA = try await http.projectID(token: demo)!
        let other = try await project("matrix-other")
        let third = try await project("matrix-third")
        let serviceProject = (try await must("GET", "/identity/v3/projects", admin)["projects"]?.arrayValue ?? [])
            .first { $0["name"] == "service" }?["id"]?.stringValue ?? ""
        _ = try await user("matrix-mallory", on: other, "member")
        _ = try await user("matrix-rita", on: projectA, "reader")
        _ = try await user("matrix-svc", on: serviceProject, "service")
        // A user with no role anywhere and no default project: its token is unscoped.
        _ = try await must("POST", "/identity/v3/users", admin, ["user": ["name": "matrix-nobody", "password": "matrix-pw", "domain_id": "default"]])
        let unscoped = try await http.request("POST", "/identity/v3/auth/tokens", json: TestHTTP.authBody(
            user: "matrix-nobody", password: "matrix-pw", project: nil)).header("X-Subject-Token")
        let tokens: [String?] = [
            nil, "gAAAAABnot-a-real-token", unscoped, try await http.token(user: "matrix-mallory", password: "matrix-pw", project: "matrix-other"),
            try await http.token(user: "matrix-rita", password: "matrix-pw", project: "demo"), demo, admin,
            try await http.token(user: "matrix-svc", password: "matrix-pw", project: "service"),
        ]
        let demoUser = (try await must("GET", "/identity/v3/auth/tokens", demo, nil, ["X-Subject-Token": demo]))["token"]?["user"]?["id"]?.stringValue ?? ""

        let compute = ["OpenStack-API-Version": "compute 2.90"]
        let server = try id(try await must("POST", "/compute/v2.1/servers", demo, ["server": [
            "name": "matrix-vm", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": "none",
            "metadata": ["k1": "v1"], "tags": ["t1"]]], compute), "server")
        let network = try id(try await must("POST", "/network/v2.0/networks", demo, ["network": ["name": "matrix-net"]]), "network")
        let subnet = try id(try await must("POST", "/network/v2.0/subnets", demo, ["subnet": [
            "network_id": .string(network), "cidr": "192.168.77.0/24", "ip_version": 4]]), "subnet")
        let port = try id(try await must("POST", "/network/v2.0/ports", demo, ["port": ["network_id": .string(network)]]), "port")
        let group = try id(try await must("POST", "/network/v2.0/security-groups", demo, ["security_group": ["name": "matrix-sg"]]), "security_group")
        let rule = try id(try await must("POST", "/network/v2.0/security-group-rules", demo, ["security_group_rule": [
            "security_group_id": .string(group), "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22]]), "security_group_rule")
        let image = try id(try await must("POST", "/image/v2/images", demo, [
            "name": "matrix-image", "disk_format": "raw", "container_format": "bare", "visibility": "shared"]), "image")
        _ = try await must("POST", "/image/v2/images/\(image)/members", demo, ["member": .string(third)])
        _ = try await must("POST", "/compute/v2.1/os-keypairs", demo, ["keypair": ["name": "matrix-key"]], compute)
        let serverGroup = try id(try await must("POST", "/compute/v2.1/os-server-groups", demo, ["server_group": [
            "name": "matrix-group", "policy": "anti-affinity"]], compute), "server_group")
        let aggregate = try await must("POST", "/compute/v2.1/os-aggregates", admin, ["aggregate": ["name": "matrix-agg"]], compute)["aggregate"]?["id"]
        let service = try await must("GET", "/compute/v2.1/os-services", admin, nil, compute)["services"]?.arrayValue?.first?["id"]
        let hypervisor = try await must("GET", "/compute/v2.1/os-hypervisors", admin, nil, compute)["hypervisors"]?.arrayValue?.first?["id"]
        let placement = ["OpenStack-API-Version": "placement latest"]
        let provider = try await must("POST", "/placement/resource_providers", admin, ["name": "matrix-rp"], placement)["uuid"]?.stringValue ?? ""
        _ = try await must("PUT", "/placement/resource_classes/CUSTOM_MATRIX", admin, nil, placement)
        _ = try await must("PUT", "/placement/traits/CUSTOM_MATRIX", admin, nil, placement)
        let doomedUser = try await user("matrix-doomed", on: third, "member")
        let doomedProject = try await project("matrix-doomed")
        let doomedRole = try id(try await must("POST", "/identity/v3/roles", admin, ["role": ["name": "matrix-doomed"]]), "role")
        let grantRole = try id(try await must("POST", "/identity/v3/roles", admin, ["role": ["name": "matrix-grant"]]), "role")

        func text(_ json: JSON?) -> String { json?.stringValue ?? json?.intValue.map(String.init) ?? "" }
        let values: [String: String] = [
            "compute:id": server, "compute/servers:id": server, "compute/flavors:id": "42", "compute/os-aggregates:id": text(aggregate),
            "compute/os-services:id": text(service), "compute/os-hypervisors:id": text(hypervisor),
            "compute/os-server-groups:id": serverGroup, "compute:name": "matrix-key", "compute:project": projectA,
            "compute:key": "k1", "compute:tag": "t1", "compute:request_id": "req-00000000-0000-4000-8000-000000000000",
            "network/networks:id": network, "network/subnets:id": subnet, "network/ports:id": port,
            "network/security-groups:id": group, "network/security-group-rules:id": rule, "network:project": projectA,
            "image:id": image, "image:member": third, "image:tag": "t1",
            "identity:project_id": projectA, "identity:user_id": demoUser, "identity:role_id": grantRole, "identity:domain_id": "default",
            "identity/DELETE:user_id": doomedUser, "identity/DELETE:project_id": doomedProject, "identity/DELETE:role_id": doomedRole,
            "placement:uuid": provider, "placement:resource_class": "VCPU", "placement:name": "CUSTOM_MATRIX",
            "placement:consumer": "7c8e4a56-0c3e-4a4b-9d7e-1d2f3a4b5c6d", "placement:query": "?project_id=" + projectA,
        ]
        return MatrixWorld(http: http, tokens: tokens, values: values, memberPassword: cloud.credentials.demoPassword)
    }

    /// The path of a row with its parameters filled in.
    func path(_ method: String, _ template: String) -> String {
        let segments = template.split(separator: "/").map(String.init)
        let service = segments.first ?? ""
        let resource = segments.count > 2 ? segments[2] : ""
        let filled = segments.enumerated().map { index, segment -> String in
            guard segment.hasPrefix(":") else { return segment }
            let name = String(segment.dropFirst())
            let owner = index > 0 ? segments[index - 1] : ""
            return values["\(service)/\(method):\(name)"] ?? values["\(service)/\(owner):\(name)"]
                ?? values["\(service)/\(resource):\(name)"] ?? values["\(service):\(name)"] ?? "unknown"
        }
        var path = "/" + filled.joined(separator: "/")
        if template == "placement/usages" { path += values["placement:query"]! }
        return path
    }

    func call(_ key: String, as caller: Int) async throws -> Int {
        let parts = key.split(separator: "#", maxSplits: 1).map(String.init)
        let route = parts[0].split(separator: " ", maxSplits: 1).map(String.init)
        let (method, template) = (route[0], route[1])
        var headers: [String: String] = [:]
        if template.hasPrefix("compute") { headers["OpenStack-API-Version"] = "compute 2.90" }
        if template.hasPrefix("placement") { headers["OpenStack-API-Version"] = "placement latest" }
        if template == "identity/v3/auth/tokens" && method != "POST" {
            headers["X-Subject-Token"] = try await http.token(user: "demo", password: memberPassword, project: "demo")
        }
        var json: JSON?
        if method == "PATCH" && template.hasPrefix("image") {
            headers["Content-Type"] = "application/openstack-images-v2.1-json-patch"
            return try await http.request(method, path(method, template), token: tokens[caller], rawBody: Data("[]".utf8), headers: headers).status
        }
        if parts.count == 2 {
            json = .object([parts[1]: .null])
        } else if ["POST", "PUT", "PATCH"].contains(method) {
            json = [:]
        }
        return try await http.request(method, path(method, template), token: tokens[caller], json: json, headers: headers).status
    }
}
