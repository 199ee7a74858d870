// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "stratus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stratus", targets: ["stratus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.20.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.30.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
    ],
    targets: [
        .target(
            name: "StratusCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusMessages",
            dependencies: ["StratusCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusPolicy",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusStorage",
            dependencies: [
                "StratusCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusQueue",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusIdentity",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusPlacement",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusNetwork",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusImage",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusCompute",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                "StratusQueue",
                "StratusPlacement",
                "StratusScheduler",
                "StratusImage",
                "StratusNetwork",
                "StratusMessages",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusScheduler",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusComputeAgent",
            dependencies: [
                "StratusCore",
                "StratusMessages",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusAPI",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                "StratusIdentity",
                "StratusPlacement",
                "StratusCompute",
                "StratusImage",
                "StratusNetwork",
                "StratusQueue",
                "StratusPolicy",
                "StratusMessages",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusCloud",
            dependencies: [
                "StratusCore",
                "StratusPlacement",
                "StratusCompute",
                "StratusComputeAgent",
                "StratusImage",
                "StratusNetwork",
                "StratusScheduler",
                "StratusStorage",
                "StratusQueue",
                "StratusIdentity",
                "StratusAPI",
                "StratusPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "stratus",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                "StratusQueue",
                "StratusCloud",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StratusTesting",
            dependencies: [
                "StratusCore",
                "StratusStorage",
                "StratusCloud",
                "StratusComputeAgent",
                "StratusImage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/StratusTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusCoreTests",
            dependencies: ["StratusCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusPolicyTests",
            dependencies: ["StratusPolicy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusStorageTests",
            dependencies: ["StratusStorage", "StratusQueue", "StratusTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusIdentityTests",
            dependencies: [
                "StratusIdentity", "StratusAPI", "StratusCloud", "StratusTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusPlacementTests",
            dependencies: [
                "StratusPlacement", "StratusTesting", "StratusCloud", "StratusAPI",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusComputeTests",
            dependencies: ["StratusCompute", "StratusTesting", "StratusCloud", "StratusQueue"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusImageTests",
            dependencies: [
                "StratusImage", "StratusTesting", "StratusCloud", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusNetworkTests",
            dependencies: ["StratusNetwork", "StratusTesting", "StratusCloud"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusComputeAgentTests",
            dependencies: ["StratusComputeAgent", "StratusCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StratusCLITests",
            dependencies: ["StratusTesting", "StratusCloud", "StratusComputeAgent"],
            swiftSettings: swiftSettings
        ),
    ]
)
