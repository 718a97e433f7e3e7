#if canImport(Glibc)
import Glibc
#endif
import IO

// Built two ways. With `-DFUZZING -sanitize=fuzzer` (`make fuzz`): libFuzzer's entry point, the
// target named by NOREMBED_FUZZ_TARGET. Without: a replay tool, `norembed-fuzz TARGET FILE...`, that
// runs saved inputs through a target (how a crash is reproduced under a debugger).

/// A directory of our own for the targets that read from a path.
func makeScratchDirectory() -> String {
    let base = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
    let dir = "\(base)/norembed-fuzz-\(getpid())"
    mkdir(dir, 0o700)
    return dir
}

#if FUZZING
nonisolated(unsafe) var fuzzTarget: FuzzTarget?
nonisolated(unsafe) var fuzzScratch = ""

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    if fuzzTarget == nil {
        let name = getenv("NOREMBED_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            writeStderr("error: set NOREMBED_FUZZ_TARGET to one of: \(names)\n")
            exit(2)
        }
        fuzzTarget = target
        fuzzScratch = makeScratchDirectory()
    }
    fuzzTarget!.run(UnsafeRawBufferPointer(start: data, count: count), scratchDirectory: fuzzScratch)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

// SwiftPM links an executable's entry point as `<module>_main` (aliased to `main`): hand it to
// libFuzzer's driver.
@_cdecl("norembed_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, count in fuzzOneInput(data, count) }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 2, let target = FuzzTarget(rawValue: args[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            writeStderr("usage: norembed-fuzz \(names) FILE...\n")
            exit(2)
        }
        let scratch = makeScratchDirectory()
        for path in args.dropFirst(2) {
            guard let f = fopen(path, "rb") else { writeStderr("error: \(path): cannot open\n"); exit(1) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, f)
                if n <= 0 { break }
                bytes += buffer[..<n]
            }
            fclose(f)
            bytes.withUnsafeBytes { target.run($0, scratchDirectory: scratch) }
            print("ok \(path)")
        }
    }
}
#endif
