import Foundation
import StratusCore
import StratusIdentity

/// The bootstrap accounts' passwords (kept 0600 in the data dir) and the `clouds.yaml` written from them.
public struct BootstrapCredentials: Sendable, Codable, Equatable {
    public var adminPassword: String
    public var demoPassword: String
    /// The compute agents' service user (`nova` in project `service`); added to older files on first read.
    public var servicePassword: String

    static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Reads the saved passwords, or makes and saves new ones on first start.
    public static func loadOrCreate(in dataDir: String) throws -> BootstrapCredentials {
        let path = dataDir + "/credentials.json"
        if let data = FileManager.default.contents(atPath: path) {
            let saved: Saved
            do { saved = try JSONDecoder().decode(Saved.self, from: data) } catch {
                throw ConfigError("\(path) is corrupt (\(error)); remove it to generate new bootstrap passwords")
            }
            let credentials = BootstrapCredentials(adminPassword: saved.adminPassword, demoPassword: saved.demoPassword,
                                                   servicePassword: saved.servicePassword ?? generatePassword())
            if saved.servicePassword == nil { try credentials.save(to: path) }
            return credentials
        }
        let credentials = BootstrapCredentials(adminPassword: generatePassword(), demoPassword: generatePassword(),
                                               servicePassword: generatePassword())
        try credentials.save(to: path)
        return credentials
    }

    /// The file as earlier versions wrote it too (without the service password).
    private struct Saved: Decodable {
        var adminPassword: String
        var demoPassword: String
        var servicePassword: String?
    }

    func save(to path: String) throws {
        let data = try JSONEncoder().encode(self)
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw ConfigError("cannot write \(path)") }
    }

    /// `clouds.yaml` with `stratus-admin` and `stratus-demo`, as openstacksdk and the CLI read it.
    public func cloudsYAML(authURL: String, region: String) -> String {
        func cloud(_ name: String, _ user: String, _ project: String, _ password: String) -> String {
            """
              \(name):
                auth:
                  auth_url: \(authURL)
                  username: \(user)
                  password: \(password)
                  project_name: \(project)
                  user_domain_name: Default
                  project_domain_name: Default
                region_name: \(region)
                identity_api_version: 3
                interface: public

            """
        }
        return "clouds:\n" + cloud("stratus-admin", "admin", "admin", adminPassword)
            + cloud("stratus-demo", "demo", "demo", demoPassword)
    }

    /// The compute agents' credentials file: `[service_user]` with keystoneauth's option names, which
    /// `stratus compute --config FILE` reads.
    public func agentConfig(authURL: String, caFile: String = "") -> String {
        let ca = caFile.isEmpty ? "" : "# The CA bundle the agent verifies the API's TLS certificate with (copy it with this file).\ncafile = \(caFile)\n"
        return """
        # Written by stratus: the compute agents' service user. Agents need nothing else to reach the control plane.
        [service_user]
        auth_url = \(authURL)
        username = \(IdentityBootstrap.serviceUser)
        password = \(servicePassword)
        project_name = service
        user_domain_name = Default
        project_domain_name = Default
        \(ca)
        """
    }

    public func writeAgentConfig(to path: String, authURL: String, caFile: String = "") throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(agentConfig(authURL: authURL, caFile: caFile).utf8),
                                             attributes: [.posixPermissions: 0o600])
        else { throw ConfigError("cannot write \(path)") }
    }

    public func writeCloudsFile(to path: String, authURL: String, region: String) throws {
        let text = cloudsYAML(authURL: authURL, region: region)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw ConfigError("cannot write \(path)") }
    }
}
