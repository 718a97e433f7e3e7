// swift-tools-version:6.0
// The package: thin command-line tools over six library targets whose dependencies point one way
// (the compiler enforces it), plus module maps for the C libraries we call.
//
//   IO           files and formats: zstd/gzip streams, JSON(L), CSV, YAML, safetensors, Parquet,
//                PyTorch checkpoints; errors, progress, threads, random numbers
//   Tokenizers   Hugging Face tokenizers (WordPiece, Unigram, BPE) and the `tokenize` job    → IO
//   Hub          the Hugging Face hub client (libcurl), model and dataset fetching           → IO
//   NN           ops (forward/backward per layer, OpenBLAS) and the encoders, model folders → IO
//   Inference    text → vectors, evaluators                                → NN, Tokenizers, IO
//   DataParallel the ranks of an MPI job (Open MPI loaded at run time), collectives       → IO
//   Training     config, objective, optimizer, sampler, trainer, checkpoints → Inference, NN, DataParallel, IO
//   CLI          the tools' shared options and error path (swift-argument-parser)          → IO
import PackageDescription

// Release builds drop Swift's exclusivity checks: the hot loops index raw buffers, and the runtime
// checks would cost more than the arithmetic (see DEVELOPERS.md, "Speed").
let fastSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// NOREMBED_PORTABLE=1 in the environment builds the portable path on x86-64 too: no SSE2 or AVX
// intrinsics, no run-time dispatch, no bf16 kernels — the plain Swift SIMD code that aarch64 gets
// (CI builds and tests it once that way, in its own scratch path: .build-portable).
let portable = ["1", "true", "yes"].contains(Context.environment["NOREMBED_PORTABLE"] ?? "")
let portableSwift: [SwiftSetting] = portable ? [.define("NOREMBED_PORTABLE")] : []
let portableC: [CSetting] = portable ? [.define("NOREMBED_PORTABLE")] : []

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "norembed",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fetch-data", targets: ["fetch-data"]),
        .executable(name: "tokenize", targets: ["tokenize"]),
        .executable(name: "train", targets: ["train"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        .executable(name: "embed", targets: ["embed"]),
        .executable(name: "upload", targets: ["upload"]),
        .executable(name: "serve", targets: ["serve"]),
        .executable(name: "mine", targets: ["mine"]),
        .library(name: "Training", targets: ["Training"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // serve: the HTTP server (Hummingbird 2 over SwiftNIO) and its graceful shutdown.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // curl_easy_setopt is variadic, which Swift cannot call: typed wrappers in C.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // AVX2/AVX-512 element-wise kernels and AVX512-BF16 matrix products, chosen at run time.
        .target(name: "CKernels", cSettings: portableC, linkerSettings: [.linkedLibrary("m")]),
        // Open MPI, dlopen()ed at run time under an MPI launcher only: nothing of MPI to build or link.
        .target(name: "CMPIDyn", linkerSettings: [.linkedLibrary("dl")]),

        // The library, bottom to top.
        .target(name: "IO", dependencies: ["CZstd", "CZlib", "CYAML", "CCrypto"], swiftSettings: fastSettings),
        .target(name: "Tokenizers", dependencies: ["IO"], swiftSettings: fastSettings),
        .target(name: "Hub", dependencies: ["IO", "CCurl", "CCurlShim"], swiftSettings: fastSettings),
        .target(name: "NN", dependencies: ["IO", "CBLAS", "CKernels"], swiftSettings: fastSettings + portableSwift),
        .target(name: "Inference", dependencies: ["NN", "Tokenizers", "IO"], swiftSettings: fastSettings),
        .target(name: "DataParallel", dependencies: ["IO", "CMPIDyn"], swiftSettings: fastSettings),
        .target(name: "Training", dependencies: ["Inference", "NN", "DataParallel", "IO"], swiftSettings: fastSettings),
        .target(name: "CLI", dependencies: ["IO", argumentParser], swiftSettings: fastSettings),

        // The tools: argument parsing and output over the library.
        .executableTarget(name: "fetch-data", dependencies: ["CLI", "Hub", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "tokenize", dependencies: ["CLI", "Tokenizers", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "train", dependencies: ["CLI", "Training", "DataParallel", "Hub", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "evaluate", dependencies: ["CLI", "Inference", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "embed", dependencies: ["CLI", "Inference", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "upload", dependencies: ["CLI", "Hub", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "serve", dependencies: [
            "CLI", "Inference", "NN", "IO", "CBLAS", argumentParser,
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: fastSettings),
        .executableTarget(name: "mine", dependencies: ["CLI", "Inference", "IO", argumentParser], swiftSettings: fastSettings),
        .executableTarget(name: "embedkit-bench", dependencies: ["Training", "DataParallel", "NN", "IO", "CBLAS"], swiftSettings: fastSettings),
        // Fuzz targets for every reader of untrusted bytes (`make fuzz`; a replay tool otherwise).
        .executableTarget(name: "norembed-fuzz", dependencies: ["Training", "Tokenizers", "IO"], swiftSettings: fastSettings),

        // Tests, one target per library module (each sees only what it tests), plus end-to-end
        // tests of the built tools. Fixtures live in Tests/Fixtures, read by path.
        .target(name: "TestSupport", dependencies: ["NN", "IO", "CZlib"], path: "Tests/TestSupport", swiftSettings: fastSettings),
        .testTarget(name: "IOTests", dependencies: ["IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "HubTests", dependencies: ["Hub", "IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "NNTests", dependencies: ["NN", "IO", "CBLAS", "TestSupport"], swiftSettings: fastSettings + portableSwift),
        .testTarget(name: "DataParallelTests", dependencies: ["DataParallel", "IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "NN", "IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "DataParallel", "Inference", "NN", "IO", "TestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "ToolTests", dependencies: ["Training", "Inference", "NN", "IO", "TestSupport"], swiftSettings: fastSettings),
    ]
)
