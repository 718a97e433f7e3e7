import Foundation
import IO

/// The version and source commit of this build, for the model card's framework versions.
///
/// The commit is read at run time: `git rev-parse HEAD` in the source tree this binary was compiled
/// from (found through `#filePath`), plus `-dirty` when tracked files differ from it. SwiftPM has no
/// build step that could stamp it in without a build-tool plugin (which would re-stamp, and so
/// recompile, on every build). It names the built commit as long as the binary was rebuilt after the
/// last source change, which the Makefile guarantees; a binary moved away from its sources, or a
/// machine without git, reports no commit.
package enum BuildInfo {
    package static let version = EmbedKitVersion.string

    /// The source tree: this file is Sources/Training/ModelCard/BuildInfo.swift.
    static let sourceRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    package static let commit: String? = {
        guard FileSystem.exists(sourceRoot + "/.git"),
              let head = git(["rev-parse", "HEAD"]), head.count == 40 else { return nil }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return head + (dirty ? "-dirty" : "")
    }()

    /// The Swift compiler that built this binary (major.minor).
    package static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()

    /// `git -C <sourceRoot> args…`'s trimmed output, or nil when git is missing or fails.
    static func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", sourceRoot] + args
        var env = ProcessInfo.processInfo.environment
        env["GIT_OPTIONAL_LOCKS"] = "0"  // a status must not take the index lock under a running git
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
