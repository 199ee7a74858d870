import Hummingbird
import StratusCompute
import StratusCore

/// `os-keypairs`: per-user public keys; generated (ed25519) when none is given before microversion 2.92.
extension ComputeAPI {
    func registerKeypairs(on router: PolicedRouter) {
        router.post("compute/v2.1/os-keypairs", .rule("os_compute_api:os-keypairs:create")) { request, context in
            let auth = try context.requireAuth()
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "keypair")
            let name = try fields.requiredString("name")
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "-_ .@".contains($0) }), name.trimmingCharacters(in: .whitespaces) == name else {
                throw StratusError.badRequest("Keypair data is invalid: Keypair name contains unsafe characters")
            }
            let type = context.microversion.atLeast(2, 2) ? (try fields.string("type") ?? "ssh") : "ssh"
            guard type == "ssh" || type == "x509" else {
                throw StratusError.badRequest("Invalid input for field/attribute type. Value: \(type). It must be one of ssh, x509.")
            }
            var user = auth.userID
            if context.microversion.atLeast(2, 10), let other = try fields.string("user_id") {
                guard auth.isAdmin || other == auth.userID else {
                    throw StratusError.forbidden("Policy doesn't allow creating key pairs for other users.")
                }
                user = other
            }
            var publicKey = try fields.string("public_key", maxLength: 16384)
            var privateKey: String?
            if publicKey == nil {
                guard !context.microversion.atLeast(2, 92) else {
                    throw StratusError.badRequest("Invalid input for field/attribute keypair. Value: 'public_key' is a required property.")
                }
                guard type == "ssh" else { throw StratusError.badRequest("Keypair data is invalid: only ssh keys can be generated.") }
                let generated = Keypair.generateSSH(comment: "Generated-by-Stratus")
                publicKey = generated.publicKey
                privateKey = generated.privateKey
            }
            let key = publicKey!.trimmingCharacters(in: .whitespacesAndNewlines)
            let fingerprint = type == "x509" ? try Keypair.fingerprint(ofCertificate: key) : try Keypair.fingerprint(ofSSHKey: key)
            let keypair = Keypair(userID: user, name: name, type: type, publicKey: key, fingerprint: fingerprint)
            try await keypairs.create(keypair, project: auth.projectID ?? "", quotas: quotas)
            var body = keypairJSON(keypair, context, detail: false)
            if case .object(var fields) = body {
                fields["user_id"] = .string(user)
                if let privateKey { fields["private_key"] = .string(privateKey) }
                body = .object(fields)
            }
            return JSONResponse.make(status: context.microversion.atLeast(2, 2) ? .created : .ok, ["keypair": body])
        }
        router.get("compute/v2.1/os-keypairs", .rule("os_compute_api:os-keypairs:index")) { request, context in
            let user = try keypairUser(request, context)
            var list = try await keypairs.list(user: user)
            if let marker = query(request, "marker"), context.microversion.atLeast(2, 35) {
                guard let index = list.firstIndex(where: { $0.name == marker }) else { throw StratusError.badRequest("marker [\(marker)] not found") }
                list = Array(list[(index + 1)...])
            }
            if let limit = query(request, "limit").flatMap(Int.init), context.microversion.atLeast(2, 35) { list = Array(list.prefix(max(0, limit))) }
            return JSONResponse.make(status: .ok, ["keypairs": .array(list.map { ["keypair": keypairJSON($0, context, detail: false)] })])
        }
        router.get("compute/v2.1/os-keypairs/:name", .rule("os_compute_api:os-keypairs:show")) { request, context in
            let user = try keypairUser(request, context)
            let name = try context.parameters.require("name")
            guard let keypair = try await keypairs.keypair(user: user, name: name) else {
                throw StratusError.notFound("Keypair \(name) not found for user \(user)")
            }
            return JSONResponse.make(status: .ok, ["keypair": keypairJSON(keypair, context, detail: true)])
        }
        router.delete("compute/v2.1/os-keypairs/:name", .rule("os_compute_api:os-keypairs:delete")) { request, context in
            let user = try keypairUser(request, context)
            let name = try context.parameters.require("name")
            guard try await keypairs.delete(user: user, name: name) else {
                throw StratusError.notFound("Keypair \(name) not found for user \(user)")
            }
            return JSONResponse.empty(context.microversion.atLeast(2, 2) ? .noContent : .accepted)
        }
    }

    /// The caller, or (admins, 2.10+) the user named by `?user_id=`.
    func keypairUser(_ request: Request, _ context: StratusRequestContext) throws -> String {
        let auth = try context.requireAuth()
        guard let other = query(request, "user_id"), context.microversion.atLeast(2, 10), other != auth.userID else { return auth.userID }
        guard auth.isAdmin else { throw StratusError.forbidden("Policy doesn't allow reading other users' key pairs.") }
        return other
    }

    func keypairJSON(_ keypair: Keypair, _ context: StratusRequestContext, detail: Bool) -> JSON {
        var body: [String: JSON] = [
            "name": .string(keypair.name), "public_key": .string(keypair.publicKey), "fingerprint": .string(keypair.fingerprint),
        ]
        if context.microversion.atLeast(2, 2) { body["type"] = .string(keypair.type) }
        if detail {
            body["user_id"] = .string(keypair.userID)
            body["created_at"] = .string(Clock.iso8601Micro(keypair.createdAt).replacingOccurrences(of: "Z", with: ""))
            body["updated_at"] = nil
            body["deleted_at"] = nil
            body["deleted"] = false
            body["id"] = .int(abs(keypair.name.hashValue % 100_000))
        }
        return .object(body)
    }
}
