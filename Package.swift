// swift-tools-version:6.0
// The package: five thin command-line tools over one library (EmbedKit) that holds all the logic,
// plus module maps for the C libraries we call (OpenBLAS, libyaml, libcurl, libzstd, zlib).
import PackageDescription

// Release builds drop Swift's exclusivity checks: the hot loops index raw buffers, and the runtime
// checks would cost more than the arithmetic (see DEVELOPERS.md, "Speed").
let fastSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "norembed",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fetch-data", targets: ["fetch-data"]),
        .executable(name: "tokenize", targets: ["tokenize"]),
        .executable(name: "train", targets: ["train"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        .executable(name: "embed", targets: ["embed"]),
        .library(name: "EmbedKit", targets: ["EmbedKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // curl_easy_setopt is variadic, which Swift cannot call: typed wrappers in C.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        .target(
            name: "EmbedKit",
            dependencies: [
                "CBLAS", "CYAML", "CZstd", "CZlib", "CCurl", "CCurlShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastSettings
        ),
        .executableTarget(name: "fetch-data", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .executableTarget(name: "tokenize", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .executableTarget(name: "train", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .executableTarget(name: "evaluate", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .executableTarget(name: "embed", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .executableTarget(name: "embedkit-bench", dependencies: ["EmbedKit"], swiftSettings: fastSettings),
        .testTarget(
            name: "EmbedKitTests",
            dependencies: ["EmbedKit"],
            resources: [.copy("Fixtures")],
            swiftSettings: fastSettings
        ),
    ]
)
