import Foundation
import StratusAPI
import StratusCore
import StratusPolicy

/// Loads `[oslo_policy] policy_file` over OpenStack's defaults, and the listener's `[api]` limits.
enum PolicySetup {
    /// The rules in force; a file with an unknown rule name or bad syntax stops the start, naming the line.
    static func enforcer(_ config: CloudConfig) throws -> PolicyEnforcer {
        let path = config.policyFile
        var text: String?
        if FileManager.default.fileExists(atPath: path) {
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigError("policy file \(path) cannot be read: \(CloudConfig.reason(error))")
            }
        }
        do {
            return try OpenStackPolicies.enforcer(policyFile: text, path: path)
        } catch {
            throw ConfigError("[oslo_policy] policy_file: \(error.message)")
        }
    }

    /// A route naming a rule the registry does not have would refuse everyone silently: stop the start instead.
    static func checkRoutes(_ routes: [RouteEntry], against policy: PolicyEnforcer) throws {
        for route in routes {
            for rule in route.rules.values where !policy.isRegistered(rule) {
                throw ConfigError("route \(route) names the policy rule \(rule), which is not registered")
            }
        }
    }

    static func connectionLimits(_ config: CloudConfig) -> ConnectionLimits {
        let c = config.configuration
        func seconds(_ key: String) -> Duration { .milliseconds(Int64(c.double("api", key) * 1000)) }
        var limits = ConnectionLimits()
        limits.headerTimeout = seconds("header_timeout")
        limits.keepAliveTimeout = seconds("keepalive_timeout")
        limits.bodyChunkTimeout = seconds("body_chunk_timeout")
        limits.bodyTimeout = seconds("body_timeout")
        limits.maxConnections = c.int("api", "max_connections")
        limits.maxBufferedBody = c.int("oslo_middleware", "max_request_body_size")
        return limits
    }
}
